"""The gqn-datasets downloader against a local HTTP server in DeepMind's layout, offline.

The server (a thread in the test) serves small valid TFRecord files under
`<dataset>/<split>/<i>-of-<n>.tfrecord`, answers HEAD and Range requests, logs what it
was asked, and can be switched to fail: an HTTP status, a connection closed after half
the bytes, or a HEAD that declares a different size than the file has.
"""

import functools
import http.server
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from data_provider import download

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = 'rooms_ring_camera'
# DeepMind's names for the first files: the width is that of each split's file count.
TRAIN = ['%s/train/0001-of-2160.tfrecord' % DATASET, '%s/train/0002-of-2160.tfrecord' % DATASET]
TEST = ['%s/test/001-of-240.tfrecord' % DATASET]
SMALL = ['--dataset', DATASET, '--train_files', '2', '--test_files', '1']


class _Handler(http.server.BaseHTTPRequestHandler):
  """Serves files under `root` with HEAD and `Range: bytes=N-`; `server.faults` rules it."""

  protocol_version = 'HTTP/1.1'

  def __init__(self, *args, root=None, **kwargs):
    self._root = root
    super(_Handler, self).__init__(*args, **kwargs)

  def log_message(self, *args):  # Keep the test output clean.
    pass

  def _serve(self, with_body):
    relative = self.path.lstrip('/')
    faults = self.server.faults
    self.server.requests.append((self.command, relative, self.headers.get('Range')))
    status = faults.get('status', {}).get(relative)
    path = os.path.join(self._root, *relative.split('/'))
    if status is None and not os.path.isfile(path):
      status = 404
    if status is not None:
      self.send_error(status)
      return
    with open(path, 'rb') as f:
      data = f.read()
    first = 0
    match = re.match(r'bytes=(\d+)-$', self.headers.get('Range') or '')
    if match and not faults.get('ignore_range'):
      first = int(match.group(1))
      self.send_response(206)
      self.send_header('Content-Range', 'bytes %d-%d/%d' % (first, len(data) - 1,
                                                           len(data)))
    else:
      self.send_response(200)
    body = data[first:]
    declared = len(body)
    if not with_body and relative in faults.get('head_size_lie', ()):
      declared += 7
    self.send_header('Content-Length', str(declared))
    self.end_headers()
    if not with_body:
      return
    if relative in faults.get('cut', ()):
      # Half the bytes, then the connection closes: a transfer cut off mid-file.
      self.wfile.write(body[:len(body) // 2])
      self.close_connection = True
      return
    self.wfile.write(body)

  def do_HEAD(self):  # pylint: disable=invalid-name
    self._serve(with_body=False)

  def do_GET(self):  # pylint: disable=invalid-name
    self._serve(with_body=True)


def _write_tfrecord(path, seed):
  """A valid TFRecord file of a few records of arbitrary bytes (~60 kB)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  rng = np.random.RandomState(seed)
  with tf.io.TFRecordWriter(path) as writer:
    for _ in range(6):
      writer.write(rng.bytes(10000))


@pytest.fixture(name='server')
def _server(tmp_path):
  """A server in a thread over DeepMind's layout; yields (url, served dir, server)."""
  served = str(tmp_path / 'served')
  for i, relative in enumerate(TRAIN + TEST):
    _write_tfrecord(os.path.join(served, relative), seed=i)
  httpd = http.server.ThreadingHTTPServer(
      ('127.0.0.1', 0), functools.partial(_Handler, root=served))
  httpd.daemon_threads = True
  httpd.faults = {}
  httpd.requests = []
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield 'http://127.0.0.1:%d' % httpd.server_address[1], served, httpd
  httpd.shutdown()
  httpd.server_close()


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch):
  monkeypatch.setattr(download, '_RETRY_WAIT_S', 0.0)


def _run(capsys, source, data_dir, *extra):
  code = download.main(SMALL + ['--source', source, '--data_dir', data_dir] + list(extra))
  out, err = capsys.readouterr()
  return code, out, err


def _read(path):
  with open(path, 'rb') as f:
    return f.read()


def _final_files(data_dir):
  """Every file under data_dir, relative, '/'-separated."""
  found = []
  for dirpath, _, names in os.walk(data_dir):
    for name in names:
      found.append(os.path.relpath(os.path.join(dirpath, name), data_dir).replace(os.sep,
                                                                                   '/'))
  return sorted(found)


def test_complete_fetch_then_a_second_run_does_nothing(server, tmp_path, capsys):
  source, served, httpd = server
  data_dir = str(tmp_path / 'data')
  code, out, err = _run(capsys, source, data_dir)
  assert code == 0, err
  assert err == ''  # Short and not a terminal: no progress line, no error.
  assert 'Fetching 2 train and 1 test files of rooms_ring_camera' in out
  assert _final_files(data_dir) == sorted(TRAIN + TEST)
  for relative in TRAIN + TEST:
    assert _read(os.path.join(data_dir, relative)) == _read(os.path.join(served, relative))
  # What the provider reads is exactly what came down.
  from data_provider import gqn_tfr_provider  # pylint: disable=g-import-not-at-top
  declared = gqn_tfr_provider.dataset_files(DATASET, data_dir, 'train')
  assert [os.path.exists(path) for path in declared[:3]] == [True, True, False]

  del httpd.requests[:]
  code, out, err = _run(capsys, source, data_dir)
  assert code == 0
  assert 'already in' in out and 'nothing to fetch' in out
  assert httpd.requests == []  # Not even a HEAD.


def test_test_files_zero_fetches_no_test_file(server, tmp_path, capsys):
  source, _, _ = server
  data_dir = str(tmp_path / 'data')
  code, _, err = _run(capsys, source, data_dir, '--test_files', '0', '--workers', '1')
  assert code == 0, err
  assert _final_files(data_dir) == sorted(TRAIN)


def test_cut_off_transfer_is_kept_as_part_and_resumed_with_range(server, tmp_path, capsys):
  source, served, httpd = server
  data_dir = str(tmp_path / 'data')
  cut = TRAIN[1]
  httpd.faults['cut'] = {cut}
  code, _, err = _run(capsys, source, data_dir)
  assert code == 2
  lines = err.splitlines()
  assert len(lines) == 1, err
  assert cut in lines[0] and 'resume' in lines[0]
  final = os.path.join(data_dir, cut)
  part = final + '.part'
  assert not os.path.exists(final)
  served_bytes = _read(os.path.join(served, cut))
  kept = _read(part)
  assert 0 < len(kept) < len(served_bytes)
  assert served_bytes.startswith(kept)
  # Within the run, each retry asked for the rest with a Range request.
  ranges = [rng for method, path, rng in httpd.requests if method == 'GET' and path == cut]
  assert len(ranges) == download._ATTEMPTS and ranges[0] is None
  assert all(rng and rng.startswith('bytes=') for rng in ranges[1:])

  httpd.faults.clear()
  del httpd.requests[:]
  code, _, err = _run(capsys, source, data_dir)
  assert code == 0, err
  assert _read(final) == served_bytes
  assert not os.path.exists(part)
  gets = [(path, rng) for method, path, rng in httpd.requests if method == 'GET']
  assert gets == [(cut, 'bytes=%d-' % len(kept))]  # Only the missing tail.


def test_server_that_ignores_range_restarts_the_file(server, tmp_path, capsys):
  source, served, httpd = server
  data_dir = str(tmp_path / 'data')
  relative = TRAIN[0]
  served_bytes = _read(os.path.join(served, relative))
  part = os.path.join(data_dir, relative) + '.part'
  os.makedirs(os.path.dirname(part))
  with open(part, 'wb') as f:
    f.write(served_bytes[:1000])
  httpd.faults['ignore_range'] = True
  code, _, err = _run(capsys, source, data_dir)
  assert code == 0, err
  assert _read(os.path.join(data_dir, relative)) == served_bytes


@pytest.mark.parametrize('status', [404, 500])
def test_http_error_is_one_line_exit_2_and_no_final_file(server, tmp_path, capsys,
                                                         status):
  source, _, httpd = server
  data_dir = str(tmp_path / 'data')
  httpd.faults['status'] = {TEST[0]: status}
  code, _, err = _run(capsys, source, data_dir)
  assert code == 2
  lines = err.splitlines()
  assert len(lines) == 1, err
  assert TEST[0] in lines[0] and ('HTTP %d' % status) in lines[0]
  assert not os.path.exists(os.path.join(data_dir, TEST[0]))
  # The sizes are asked first, so nothing was written at all.
  assert [f for f in _final_files(data_dir) if not f.endswith('.part')] == []


def test_size_disagreeing_with_the_server_is_refused(server, tmp_path, capsys):
  source, _, httpd = server
  data_dir = str(tmp_path / 'data')
  httpd.faults['head_size_lie'] = {TRAIN[0]}
  code, _, err = _run(capsys, source, data_dir, '--workers', '1')
  assert code == 2
  lines = err.splitlines()
  assert len(lines) == 1, err
  assert TRAIN[0] in lines[0] and 'refused' in lines[0]
  final = os.path.join(data_dir, TRAIN[0])
  assert not os.path.exists(final) and not os.path.exists(final + '.part')


def test_file_that_is_not_tfrecords_is_refused(server, tmp_path, capsys):
  source, served, _ = server
  data_dir = str(tmp_path / 'data')
  path = os.path.join(served, TEST[0])
  data = bytearray(_read(path))
  data[100] ^= 0xFF  # Inside the first record's data: its CRC no longer matches.
  with open(path, 'wb') as f:
    f.write(bytes(data))
  code, _, err = _run(capsys, source, data_dir)
  assert code == 2
  assert len(err.splitlines()) == 1 and 'TFRecords' in err, err
  final = os.path.join(data_dir, TEST[0])
  assert not os.path.exists(final) and not os.path.exists(final + '.part')


def test_full_disk_is_one_line_and_keeps_the_part(server, tmp_path, capsys, monkeypatch):
  source, _, _ = server
  data_dir = str(tmp_path / 'data')

  class _FullDisk(object):
    """A file that takes the first write and then reports a full disk."""

    def __init__(self, path, mode):
      self._file = open(path, mode)
      self._writes = 0

    def write(self, data):
      self._writes += 1
      if self._writes > 1:
        raise OSError(28, 'No space left on device')  # errno.ENOSPC
      return self._file.write(data)

    def __enter__(self):
      return self

    def __exit__(self, *args):
      self._file.close()

  monkeypatch.setattr(download, '_CHUNK_BYTES', 4096)
  monkeypatch.setattr(download, '_open_part', _FullDisk)
  code, _, err = _run(capsys, source, data_dir, '--workers', '1')
  assert code == 2
  assert len(err.splitlines()) == 1 and 'disk is full' in err, err
  assert [f for f in _final_files(data_dir) if not f.endswith('.part')] == []


def test_unreachable_server_is_one_line(tmp_path, capsys):
  # A port nothing listens on: bind one, note it, close it.
  import socket  # pylint: disable=g-import-not-at-top
  probe = socket.socket()
  probe.bind(('127.0.0.1', 0))
  port = probe.getsockname()[1]
  probe.close()
  code, _, err = _run(capsys, 'http://127.0.0.1:%d' % port, str(tmp_path / 'data'))
  assert code == 2
  assert len(err.splitlines()) == 1 and 'network error' in err, err


@pytest.mark.parametrize('name', ['no_such_dataset', 'synth_rooms_ring_camera'])
def test_unknown_or_rendered_dataset_names_the_choices(tmp_path, capsys, name):
  code = download.main(['--dataset', name, '--data_dir', str(tmp_path)])
  _, err = capsys.readouterr()
  assert code == 2
  assert len(err.splitlines()) == 1
  assert 'rooms_ring_camera' in err and 'shepard_metzler_7_parts' in err
  assert 'synth_' not in err.split('datasets are')[-1]  # Not offered as a choice.


def test_too_many_files_is_refused(tmp_path, capsys):
  code = download.main(['--dataset', DATASET, '--data_dir', str(tmp_path),
                        '--test_files', '241'])
  _, err = capsys.readouterr()
  assert code == 2 and '240 test files' in err


def test_help_runs_as_a_module():
  result = subprocess.run([sys.executable, '-m', 'data_provider.download', '--help'],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=60)
  assert result.returncode == 0, result.stderr
  for flag in ('--dataset', '--data_dir', '--train_files', '--test_files', '--workers',
               '--source'):
    assert flag in result.stdout
  assert download.DEFAULT_SOURCE in result.stdout.replace('\n', '').replace(' ', '')

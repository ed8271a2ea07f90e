"""Downloader for DeepMind's gqn-datasets over plain HTTPS, resumable and in parallel.

    python3 -m data_provider.download --dataset rooms_ring_camera --data_dir /data/gqn \
        --train_files 20 --test_files 2

fetches `SOURCE/<name>/<split>/<i>-of-<n>.tfrecord` into
`DATA_DIR/<name>/<split>/<i>-of-<n>.tfrecord`, DeepMind's layout and names, with the
file counts of the provider's dataset table (the same as DeepMind's `data_reader.py`).
The first N files of a split are enough to train: the provider reads what is there.

A file is written to `FILE.part` and renamed into place only once its size equals the
server's and it reads through as TFRecords (CRCs checked), so a file under its final
name is always whole. An interrupted file continues from its `.part` with an HTTP Range
request (or starts over when the server ignores Range); files already in place are not
fetched again. Every failure is one line on stderr and exit status 2.

Only the standard library talks HTTP; TensorFlow is imported after the flags are
parsed, to check the records, so `--help` answers at once.
"""

import argparse
import collections
import concurrent.futures
import errno
import http.client
import os
import re
import shutil
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from data_provider import flag_types
from data_provider import progress as progress_lib

DEFAULT_SOURCE = 'https://storage.googleapis.com/gqn-dataset'
DEFAULT_WORKERS = 4

_PART_SUFFIX = '.part'
_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60.0
# A dropped connection or a 5xx is retried in the same run (resuming with Range) before
# it is reported; the wait grows with each attempt.
_ATTEMPTS = 3
_RETRY_WAIT_S = 2.0
_SPLITS = ('train', 'test')

# One file to fetch: its address, its final local path and its split.
RemoteFile = collections.namedtuple('RemoteFile', ['url', 'path', 'split'])


class DownloadError(Exception):
  """A failure the user must act on; the message is one line saying what to do."""


class _RetryableError(DownloadError):
  """A failure that may pass on its own: a dropped connection, a 5xx."""


class _Stopped(Exception):
  """Another transfer failed or the user interrupted: stop, keeping the `.part`."""


# Sizes and times for people ---------------------------------------------------------------

def _human_bytes(count):
  """'1.5 GB' for 1.5e9: decimal units, as the bucket's sizes are usually quoted."""
  for unit in ('B', 'kB', 'MB', 'GB'):
    if abs(count) < 1000.0:
      return ('%d %s' if unit == 'B' else '%.1f %s') % (count, unit)
    count /= 1000.0
  return '%.1f TB' % count


def _human_duration(seconds):
  seconds = int(round(seconds))
  if seconds < 60:
    return '%d s' % seconds
  if seconds < 3600:
    return '%d min %02d s' % divmod(seconds, 60)
  return '%d h %02d min' % (seconds // 3600, seconds % 3600 // 60)


class _Progress(progress_lib.ProgressLine):
  """One progress line on stderr: bytes, files, rate and ETA, safe across threads.

  On a terminal the line is redrawn in place; in a log file a new line is written every
  `log_interval` seconds, so a long download neither floods nor goes silent.
  """

  def __init__(self, label, total_bytes, done_bytes, total_files,
               tty_interval=0.2, log_interval=10.0):
    super(_Progress, self).__init__(self._line, tty_interval=tty_interval,
                                    log_interval=log_interval, draw_first_change=False)
    self._label = label
    self._total_bytes = total_bytes
    self._done_bytes = done_bytes
    # Bytes already on disk (earlier runs) do not count towards the rate.
    self._start_bytes = done_bytes
    self._total_files = total_files
    self._done_files = 0

  def add_bytes(self, count):
    """Counts `count` more bytes on disk (negative when a file starts over)."""
    with self.lock:
      self._done_bytes += count
      self.changed()

  def add_file(self):
    with self.lock:
      self._done_files += 1
      self.changed()

  def _line(self, elapsed):
    rate = (self._done_bytes - self._start_bytes) / elapsed
    left = max(self._total_bytes - self._done_bytes, 0)
    eta = _human_duration(left / rate) if rate > 0 else '?'
    percent = 100.0 * self._done_bytes / max(self._total_bytes, 1)
    return ('%s: %s of %s (%.0f%%), %d of %d files, %s/s, ETA %s'
            % (self._label, _human_bytes(self._done_bytes),
               _human_bytes(self._total_bytes), percent, self._done_files,
               self._total_files, _human_bytes(rate), eta))

  def close(self, success):
    """Draws the final state on success; ends a redrawn line so what follows starts clean."""
    with self.lock:
      super(_Progress, self).close(final=success and (self.tty or self.drawn))


# What to fetch ---------------------------------------------------------------------------

def _provider():
  """The provider module, imported on first use: it imports TensorFlow."""
  # TensorFlow only reads records here; its start-up notices would bury the progress
  # line, and a failure to read reaches us as an exception anyway.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  from data_provider import gqn_tfr_provider  # pylint: disable=g-import-not-at-top
  return gqn_tfr_provider


def downloadable_datasets():
  """Names of DeepMind's datasets, sorted; the project's rendered `synth_*` ones excluded."""
  return [name for name in _provider().dataset_names() if not name.startswith('synth_')]


def remote_files(dataset, data_dir, train_files=None, test_files=None,
                 source=DEFAULT_SOURCE):
  """Lists the files to fetch, in DeepMind's layout and numbering.

  Args:
    dataset: one of `downloadable_datasets()`, e.g. 'rooms_ring_camera'.
    data_dir: local root; files go to `data_dir/<basepath>/<split>/`.
    train_files: how many train files, the first ones in order; None for all.
    test_files: the same for the test split; 0 fetches none.
    source: base address holding `<basepath>/<split>/<i>-of-<n>.tfrecord`.

  Returns:
    List of RemoteFile(url, path, split), train files first, e.g. url
    'SOURCE/rooms_ring_camera/train/0001-of-2160.tfrecord'.

  Raises:
    DownloadError: unknown or rendered dataset, or more files asked for than exist.
  """
  provider = _provider()
  choices = downloadable_datasets()
  if dataset not in choices:
    rendered = ''
    if dataset in provider.dataset_names():
      rendered = (' %s is rendered by this project, not downloaded: '
                  'python3 -m data_provider.scenes.render --dataset %s ...;'
                  % (dataset, dataset))
    raise DownloadError('Unknown dataset %r:%s DeepMind\'s datasets are %s.'
                        % (dataset, rendered, ', '.join(choices)))
  wanted = {'train': train_files, 'test': test_files}
  files = []
  for split in _SPLITS:
    # The provider's own naming, relative to an empty root, so the URL and the local
    # path are both exactly what the reader looks for.
    names = provider.dataset_files(dataset, '', split)
    count = len(names) if wanted[split] is None else wanted[split]
    if count > len(names):
      raise DownloadError('%s has %d %s files; --%s_files %d asks for more. Use at most '
                          '%d (or leave the flag out for all).'
                          % (dataset, len(names), split, split, count, len(names)))
    for name in names[:count]:
      relative = name.replace(os.sep, '/')
      files.append(RemoteFile(url=source.rstrip('/') + '/' + relative,
                              path=os.path.join(data_dir, *relative.split('/')),
                              split=split))
  return files


# One file over HTTP ----------------------------------------------------------------------

def _open_url(url, offset=0, method='GET'):
  headers = {'User-Agent': 'gqn-download', 'Accept-Encoding': 'identity'}
  if offset:
    headers['Range'] = 'bytes=%d-' % offset
  request = urllib.request.Request(url, headers=headers, method=method)
  return urllib.request.urlopen(request, timeout=_TIMEOUT_S)


def _open_part(path, mode):
  """Opens the `.part` file (a seam the tests use to simulate a full disk)."""
  return open(path, mode)


def _http_error(url, error):
  if error.code == 404:
    return DownloadError('%s: HTTP 404 Not Found. Check --dataset and --source (files are '
                         'SOURCE/<dataset>/<train|test>/<i>-of-<n>.tfrecord).' % url)
  if error.code >= 500:
    return _RetryableError('%s: HTTP %d %s from the server. Try again later; the same '
                           'command resumes.' % (url, error.code, error.reason))
  return DownloadError('%s: HTTP %d %s. Check --source and access to it.'
                       % (url, error.code, error.reason))


def _network_error(url, error, part=None):
  """A dropped connection, refused connection or failed DNS lookup, as a retryable error."""
  reason = getattr(error, 'reason', None) or error
  if isinstance(reason, socket.gaierror):
    what = 'cannot resolve %s (%s)' % (urllib.parse.urlsplit(url).hostname, reason)
  else:
    what = 'network error (%s)' % (str(reason) or type(reason).__name__)
  kept = ''
  if part and os.path.exists(part):
    kept = ' %s keeps the %s fetched so far.' % (part, _human_bytes(os.path.getsize(part)))
  return _RetryableError('%s: %s. Check the connection and --source, then run the same '
                         'command again to resume.%s' % (url, what, kept))


def _disk_error(path, error, size):
  if error.errno == errno.ENOSPC:
    written = os.path.getsize(path) if os.path.exists(path) else 0
    return DownloadError('%s: the disk is full (%s of %s written). Free space in %s and '
                         'run the same command again to resume from the .part file.'
                         % (path, _human_bytes(written), _human_bytes(size or 0),
                            os.path.dirname(path)))
  return DownloadError('%s: cannot write (%s). Check --data_dir.'
                       % (path, error.strerror or error))


def remote_size(url):
  """The file's size in bytes as the server declares it (HEAD), or None if it does not say.

  Raises:
    DownloadError: HTTP error or unreachable server (_RetryableError when it may pass).
  """
  try:
    with _open_url(url, method='HEAD') as response:
      length = response.headers.get('Content-Length')
  except urllib.error.HTTPError as error:
    # Some mirrors refuse HEAD; the GET's headers give the size then.
    if error.code in (405, 501):
      return None
    raise _http_error(url, error)
  except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
    raise _network_error(url, error)
  return int(length) if length is not None else None


def _content_range(header):
  """(first byte, total size or None) of a 'bytes 100-199/1000' header, or None."""
  match = re.match(r'bytes (\d+)-\d+/(\d+|\*)', header or '')
  if not match:
    return None
  total = match.group(2)
  return int(match.group(1)), (None if total == '*' else int(total))


def _transfer(item, size, progress, stop):
  """Appends to (or starts) `item.path + '.part'` until the server's bytes end.

  Returns:
    The file's size as the server declares it (`size`, or what the GET says if None).

  Raises:
    DownloadError: the server's sizes disagree, HTTP error, disk error.
    _RetryableError: the connection broke or the server failed (5xx); the `.part` stays.
    _Stopped: `stop` was set.
  """
  part = item.path + _PART_SUFFIX
  offset = os.path.getsize(part) if os.path.exists(part) else 0
  if size is not None and offset > size:
    # Longer than the file: not a prefix of it (the server's file changed).
    progress.add_bytes(-offset)
    os.remove(part)
    offset = 0
  if size is not None and offset == size:
    return size  # Fully fetched before, only not yet checked.
  try:
    response = _open_url(item.url, offset)
  except urllib.error.HTTPError as error:
    if error.code == 416 and offset:
      # The part does not fit the file on the server: start over on the next attempt.
      progress.add_bytes(-offset)
      os.remove(part)
      raise _RetryableError('%s: the server refused to resume at byte %d; %s was deleted. '
                            'Run the same command again.' % (item.url, offset, part))
    raise _http_error(item.url, error)
  except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
    raise _network_error(item.url, error, part)
  with response:
    if offset and response.status == 206:
      first, total = _content_range(response.headers.get('Content-Range')) or (None, None)
      if first != offset:
        raise DownloadError('%s: asked for bytes from %d, the server sent %r. Delete %s and '
                            'run again.' % (item.url, offset,
                                            response.headers.get('Content-Range'), part))
      mode = 'ab'
    else:
      # A 200 to a Range request: the server ignores Range, so the file starts over.
      progress.add_bytes(-offset)
      offset = 0
      length = response.headers.get('Content-Length')
      total = int(length) if length is not None else None
      mode = 'wb'
    if size is None:
      size = total
    elif total is not None and total != size:
      if os.path.exists(part):
        progress.add_bytes(-offset)
        os.remove(part)
      raise DownloadError('%s: the server declares %d bytes, then sends %d; refused, '
                          'nothing kept. The file changed on the server or the mirror is '
                          'inconsistent: run again, or use another --source.'
                          % (item.url, size, total))
    try:
      with _open_part(part, mode) as out:
        while True:
          if stop.is_set():
            raise _Stopped()
          try:
            chunk = response.read(_CHUNK_BYTES)
          except (OSError, http.client.HTTPException) as error:
            raise _network_error(item.url, error, part)
          if not chunk:
            break
          out.write(chunk)
          progress.add_bytes(len(chunk))
    except OSError as error:
      raise _disk_error(part, error, size)
  received = os.path.getsize(part)
  if size is not None and received < size:
    # http.client ends a body cut short without an error: only the size tells.
    raise _RetryableError('%s: the connection closed at %s of %s. %s keeps what arrived: '
                          'run the same command again to resume.'
                          % (item.url, _human_bytes(received), _human_bytes(size), part))
  if size is not None and received > size:
    progress.add_bytes(-received)
    os.remove(part)
    raise DownloadError('%s: received %d bytes, the server declared %d; refused, nothing '
                        'kept. Run again, or use another --source.'
                        % (item.url, received, size))
  return size


def check_records(path):
  """Reads `path` through as TFRecords, CRCs included.

  Returns:
    None if every record reads and there is at least one, else why not (one phrase).
  """
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  # A private graph: workers check files in parallel, and callers may be in graph or
  # eager mode. Dataset.reduce raises no deprecation notices in TF 1.15 or 2.x.
  with tf.Graph().as_default():
    count = tf.data.TFRecordDataset(path).reduce(
        tf.constant(0, tf.int64), lambda total, _: total + 1)
    try:
      with tf.Session() as session:
        num_records = session.run(count)
    except tf.errors.OpError as error:
      return (error.message or str(error)).splitlines()[0]
  return None if num_records else 'it holds no records'


def fetch_file(item, progress, stop, size=None):
  """Fetches one file into place: transfer with retries, size and record checks, rename.

  Args:
    item: RemoteFile.
    progress: _Progress to report bytes and files to.
    stop: threading.Event; when set, the transfer stops between chunks.
    size: the server's size from `remote_size`, or None to take the GET's.

  Raises:
    DownloadError: one line saying what failed and what to do.
    _Stopped: `stop` was set.
  """
  part = item.path + _PART_SUFFIX
  size = _retrying(lambda: _transfer(item, size, progress, stop), stop)
  problem = check_records(part)
  if problem:
    progress.add_bytes(-os.path.getsize(part))
    os.remove(part)
    raise DownloadError('%s: the file does not read as TFRecords (%s); deleted it. Run '
                        'again, or use another --source.' % (item.url, problem))
  os.replace(part, item.path)
  progress.add_file()


def _retrying(function, stop):
  """`function()`, called again after a growing wait while it raises _RetryableError."""
  for attempt in range(1, _ATTEMPTS + 1):
    try:
      return function()
    except _RetryableError:
      if attempt == _ATTEMPTS or stop.is_set():
        raise
      time.sleep(_RETRY_WAIT_S * attempt)


# The whole download ----------------------------------------------------------------------

def _run_parallel(function, items, workers, stop):
  """Calls `function(item)` on `workers` threads; returns the results in order.

  The first DownloadError stops the rest (they raise _Stopped) and is re-raised.
  """
  results = [None] * len(items)
  with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
    futures = {pool.submit(function, item): i for i, item in enumerate(items)}
    first_error = None
    try:
      for future in concurrent.futures.as_completed(futures):
        try:
          results[futures[future]] = future.result()
        except (_Stopped, concurrent.futures.CancelledError):
          pass  # Stopped because of `first_error`.
        except DownloadError as error:
          if first_error is None:
            first_error = error
            stop.set()
            for other in futures:
              other.cancel()
    except KeyboardInterrupt:
      stop.set()
      for other in futures:
        other.cancel()
      raise
  if first_error is not None:
    raise first_error
  return results


def download(dataset, data_dir, train_files=None, test_files=None,
             workers=DEFAULT_WORKERS, source=DEFAULT_SOURCE, log=None):
  """Fetches the first files of a dataset's splits into `data_dir`; see the module doc.

  Args:
    dataset: one of `downloadable_datasets()`.
    data_dir: local root of the gqn-datasets layout.
    train_files: number of train files (the first ones); None for all.
    test_files: number of test files; None for all, 0 for none.
    workers: parallel transfers.
    source: base address of the files.
    log: function taking one line for people; defaults to printing on stdout.

  Returns:
    The number of files fetched (0 when all were already in place).

  Raises:
    DownloadError: one line saying what failed and what to do.
  """
  log = log or print
  files = remote_files(dataset, data_dir, train_files, test_files, source)
  missing = [item for item in files if not os.path.exists(item.path)]
  if not missing:
    log('All %d requested files of %s are already in %s; nothing to fetch.'
        % (len(files), dataset, os.path.join(data_dir, dataset)))
    return 0
  stop = threading.Event()
  # Sizes first: a wrong --source or dataset fails before any byte is written, and the
  # progress line knows the total.
  sizes = _run_parallel(lambda item: _retrying(lambda: remote_size(item.url), stop),
                        missing, workers, stop)
  on_disk = sum(os.path.getsize(item.path + _PART_SUFFIX) for item in missing
                if os.path.exists(item.path + _PART_SUFFIX))
  total = sum(size for size in sizes if size is not None)
  for directory in sorted(set(os.path.dirname(item.path) for item in missing)):
    try:
      os.makedirs(directory, exist_ok=True)
    except OSError as error:
      raise DownloadError('%s: cannot create the directory (%s). Check --data_dir.'
                          % (directory, error.strerror or error))
  free = shutil.disk_usage(data_dir).free
  if total - on_disk > free:
    raise DownloadError('%s needs %s more and only %s is free. Free space, or fetch fewer '
                        'files with --train_files / --test_files.'
                        % (data_dir, _human_bytes(total - on_disk), _human_bytes(free)))
  counts = collections.Counter(item.split for item in missing)
  log('Fetching %d train and %d test files of %s (%s) from %s into %s, %d at a time.'
      % (counts['train'], counts['test'], dataset, _human_bytes(total), source,
         data_dir, workers))
  progress = _Progress(dataset, total, on_disk, len(missing))
  success = False
  try:
    _run_parallel(lambda pair: fetch_file(pair[0], progress, stop, pair[1]),
                  list(zip(missing, sizes)), workers, stop)
    success = True
  finally:
    progress.close(success)
  log('Done: %d files of %s in %s.' % (len(files), dataset, os.path.join(data_dir, dataset)))
  return len(missing)


def _count(text):
  """argparse type: a non-negative integer or 'all' (None)."""
  if text == 'all':
    return None
  try:
    return flag_types.non_negative_int(text)
  except argparse.ArgumentTypeError:
    raise argparse.ArgumentTypeError('expected a number of files >= 0 or "all", got %r'
                                     % text)


def _parse_args(argv):
  parser = argparse.ArgumentParser(
      prog='python3 -m data_provider.download',
      description='Fetch DeepMind\'s gqn-datasets (or their first files) over HTTPS, '
                  'resumably, into DATA_DIR/<dataset>/{train,test}/. Run it again to '
                  'resume an interrupted download; files in place are kept.',
      allow_abbrev=False)
  # What to fetch.
  parser.add_argument('--dataset', required=True,
                      help='DeepMind dataset, e.g. rooms_ring_camera, '
                           'shepard_metzler_7_parts, jaco, mazes (an unknown name lists '
                           'them all)')
  parser.add_argument('--data_dir', required=True,
                      help='local root; the files go to DATA_DIR/<dataset>/<split>/')
  parser.add_argument('--train_files', type=_count, default=None, metavar='N',
                      help='fetch the first N train files (default: all; a few are '
                           'enough to start training)')
  parser.add_argument('--test_files', type=_count, default=None, metavar='M',
                      help='fetch the first M test files (default: all; 0 for none)')
  # How to fetch it.
  parser.add_argument('--workers', type=flag_types.positive_int, default=DEFAULT_WORKERS,
                      metavar='W',
                      help='parallel transfers (default: %(default)s)')
  parser.add_argument('--source', default=DEFAULT_SOURCE, metavar='URL',
                      help='base address holding <dataset>/<split>/<i>-of-<n>.tfrecord; '
                           'a mirror or local server can stand in (default: '
                           '%(default)s, DeepMind\'s public bucket)')
  return parser.parse_args(argv)


def main(argv=None):
  """Runs the command line; returns the exit status (0 done, 2 failed, 130 interrupted)."""
  args = _parse_args(argv)
  try:
    download(args.dataset, args.data_dir, args.train_files, args.test_files,
             args.workers, args.source)
  except DownloadError as error:
    sys.stderr.write('error: %s\n' % error)
    return 2
  except KeyboardInterrupt:
    sys.stderr.write('Interrupted; .part files are kept: run the same command again to '
                     'resume.\n')
    return 130
  return 0


if __name__ == '__main__':
  sys.exit(main())

"""Progress lines on stderr for long runs: the renderer, the evaluation, downloads.

On a terminal the line is redrawn in place, at most every `tty_interval` seconds; in a
log file a new line is written every `log_interval` seconds, so a long run neither
floods the log nor goes silent.
"""

import sys
import threading
import time

_BAR_WIDTH = 30


class ProgressLine(object):
  """One status line on stderr whose text `describe(elapsed_seconds)` returns.

  Safe to call from several threads. Call `changed()` whenever the state behind the
  text changes, and `close()` at the end. A subclass that keeps counters updates them
  under `self.lock` (reentrant, so it may call `changed()` while holding it).
  """

  def __init__(self, describe, enabled=True, tty_interval=0.2, log_interval=10.0,
               draw_first_change=True):
    """Makes the line; nothing is drawn yet.

    Args:
      describe: function (elapsed seconds) -> the line's text, without line ends.
      enabled: False draws nothing at all.
      tty_interval: least seconds between two redraws on a terminal.
      log_interval: least seconds between two lines in a log file.
      draw_first_change: draw at the first change; False waits one interval, so a
        short run writes no line before `close`.
    """
    self._describe = describe
    self._enabled = enabled
    self.tty = sys.stderr.isatty()
    self._interval = tty_interval if self.tty else log_interval
    self._start = time.time()
    self._last_draw = 0.0 if draw_first_change else self._start
    self.drawn = False
    self.lock = threading.RLock()

  def changed(self):
    """Redraws the line if the interval has passed since the last draw."""
    with self.lock:
      now = time.time()
      if now - self._last_draw >= self._interval:
        self._last_draw = now
        self._draw(now)

  def _draw(self, now):
    if not self._enabled:
      return
    line = self._describe(max(now - self._start, 1e-9))
    if self.tty:
      # Pad so a shorter line fully covers the previous one.
      sys.stderr.write('\r' + line.ljust(79))
    else:
      sys.stderr.write(line + '\n')
    sys.stderr.flush()
    self.drawn = True

  def close(self, final=True):
    """Draws the final state (unless `final` is False) and ends a redrawn line."""
    with self.lock:
      if final:
        self._draw(time.time())
      if self._enabled and self.tty and self.drawn:
        sys.stderr.write('\n')
        sys.stderr.flush()


class ProgressBar(ProgressLine):
  """A counting progress line: `label [####......] done/total unit, rate unit/s`."""

  def __init__(self, label, total, unit, enabled=True, **intervals):
    """Makes the bar at 0 done.

    Args:
      label: what is progressing, e.g. 'synth_rooms_ring_camera/train'.
      total: the count at the end, or None when it is not known (no bar then).
      unit: what is counted, plural, e.g. 'scenes'.
      enabled: False draws nothing at all.
      **intervals: tty_interval, log_interval, as for ProgressLine.
    """
    super(ProgressBar, self).__init__(self._line, enabled, **intervals)
    self._label = label
    self._total = total
    self._unit = unit
    self.done = 0

  def advance(self, count=1):
    """Counts `count` more done."""
    self.done += count
    self.changed()

  def update(self, done):
    """Sets the count done."""
    self.done = done
    self.changed()

  def _line(self, elapsed):
    rate = self.done / elapsed
    if self._total:
      filled = _BAR_WIDTH * min(self.done, self._total) // self._total
      counted = '[%s%s] %d/%d' % ('#' * filled, '.' * (_BAR_WIDTH - filled), self.done,
                                  self._total)
    else:
      counted = '%d' % self.done
    return '%s %s %s, %.1f %s/s' % (self._label, counted, self._unit, rate, self._unit)

"""Line charts, bar charts and scatter plots drawn with Pillow (no plotting library).

The analyses write one PNG each; Pillow is already a dependency and matplotlib is not,
so the few chart kinds they need are drawn here: panels of lines against an integer
axis, bar charts, scatter plots with one colour per group, and column titles over a
grid of image tiles.
"""

import numpy as np
from PIL import Image
from PIL import ImageDraw

# Distinct colours for lines and groups, cycled when there are more.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
_BACKGROUND = (255, 255, 255)
_INK = (0, 0, 0)
_GRID = (225, 225, 225)
_MARGIN = (48, 22, 14, 30)  # left, top, right, bottom, in pixels


def colour(index):
  """The palette colour of group or line `index`."""
  return PALETTE[index % len(PALETTE)]


def _format(value):
  return '%.3g' % value


def _limits(values):
  """(low, high) of the finite values, widened when they are all equal."""
  finite = [v for v in values if v is not None and np.isfinite(v)]
  if not finite:
    return 0.0, 1.0
  low, high = min(finite), max(finite)
  if high - low < 1e-12:
    low, high = low - 0.5, high + 0.5
  pad = 0.05 * (high - low)
  return low - pad, high + pad


def _panel(draw, box, title, x_values, series, x_label):
  """Draws one chart of lines `series` (list of (name, values)) inside `box`."""
  left, top, right, bottom = box
  plot = (left + _MARGIN[0], top + _MARGIN[1], right - _MARGIN[2], bottom - _MARGIN[3])
  x_low, x_high = _limits(x_values)
  y_low, y_high = _limits([v for _, values in series for v in values])

  def point(x, y):
    px = plot[0] + (x - x_low) / (x_high - x_low) * (plot[2] - plot[0])
    py = plot[3] - (y - y_low) / (y_high - y_low) * (plot[3] - plot[1])
    return px, py

  draw.text((left + _MARGIN[0], top + 4), title, fill=_INK)
  for fraction in (0.0, 0.5, 1.0):
    y = y_low + fraction * (y_high - y_low)
    _, py = point(x_low, y)
    draw.line([(plot[0], py), (plot[2], py)], fill=_GRID)
    draw.text((left + 2, py - 6), _format(y), fill=_INK)
  for x in x_values:
    px, _ = point(x, y_low)
    draw.text((px - 3, plot[3] + 4), _format(x), fill=_INK)
  draw.text(((plot[0] + plot[2]) // 2 - 3 * len(x_label), plot[3] + 16), x_label, fill=_INK)
  draw.rectangle(plot, outline=_INK)
  for index, (name, values) in enumerate(series):
    points = [point(x, y) for x, y in zip(x_values, values)
              if y is not None and np.isfinite(y)]
    if len(points) > 1:
      draw.line(points, fill=colour(index), width=2)
    for px, py in points:
      draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour(index))
    if len(series) > 1:
      draw.text((plot[0] + 4, plot[1] + 2 + 11 * index), name, fill=colour(index))


def line_panels(path, x_values, panels, x_label, panel_size=(300, 210), columns=3):
  """Writes a PNG of charts side by side, each a set of lines against `x_values`.

  Args:
    path: the PNG to write.
    x_values: list of numbers, the shared x axis.
    panels: list of (title, [(line name, list of y values)]); a y of None or NaN is
      left out.
    x_label: the x axis' name.
    panel_size: (width, height) of one chart in pixels.
    columns: charts per row.
  """
  rows = (len(panels) + columns - 1) // columns
  width, height = panel_size
  image = Image.new('RGB', (width * min(columns, len(panels)), height * rows), _BACKGROUND)
  draw = ImageDraw.Draw(image)
  for index, (title, series) in enumerate(panels):
    left, top = (index % columns) * width, (index // columns) * height
    _panel(draw, (left, top, left + width, top + height), title, x_values, series, x_label)
  image.save(path)


def bar_panels(path, panels, panel_size=(240, 200), columns=4):
  """Writes a PNG of bar charts side by side, each with a dashed reference level.

  Args:
    path: the PNG to write.
    panels: list of (title, [(bar name, value)], reference value or None); bars are
      drawn from the lower of 0 and the smallest value.
    panel_size: (width, height) of one chart in pixels.
    columns: charts per row.
  """
  rows = (len(panels) + columns - 1) // columns
  width, height = panel_size
  image = Image.new('RGB', (width * min(columns, len(panels)), height * rows), _BACKGROUND)
  draw = ImageDraw.Draw(image)
  for index, (title, bars, reference) in enumerate(panels):
    left, top = (index % columns) * width, (index // columns) * height
    plot = (left + _MARGIN[0], top + _MARGIN[1], left + width - _MARGIN[2],
            top + height - _MARGIN[3])
    values = [value for _, value in bars] + ([reference] if reference is not None else [])
    low, high = _limits(values + [0.0])
    to_y = lambda value: plot[3] - (value - low) / (high - low) * (plot[3] - plot[1])
    draw.text((plot[0], top + 4), title, fill=_INK)
    for value in (low, 0.0, high):
      draw.text((left + 2, to_y(value) - 6), _format(value), fill=_INK)
    draw.rectangle(plot, outline=_INK)
    slot = (plot[2] - plot[0]) / float(len(bars))
    for bar, (name, value) in enumerate(bars):
      x0 = plot[0] + bar * slot + 4
      x1 = plot[0] + (bar + 1) * slot - 4
      y0, y1 = sorted((to_y(0.0), to_y(value)))
      draw.rectangle([x0, y0, x1, y1], fill=colour(bar))
      draw.text((x0, plot[3] + 4 + 10 * (bar % 2)), name, fill=_INK)
    if reference is not None:
      y = to_y(reference)
      for x in range(int(plot[0]), int(plot[2]), 8):
        draw.line([(x, y), (min(x + 4, plot[2]), y)], fill=_INK)
  image.save(path)


def scatter_panels(path, panels, size=320):
  """Writes a PNG of scatter plots side by side, points coloured by group.

  Args:
    path: the PNG to write.
    panels: list of (title, points [N, 2], groups [N] ints).
    size: side of one plot in pixels.
  """
  image = Image.new('RGB', (size * len(panels), size), _BACKGROUND)
  draw = ImageDraw.Draw(image)
  for index, (title, points, groups) in enumerate(panels):
    points = np.asarray(points, np.float64)
    left = index * size
    plot = (left + 12, 24, left + size - 12, size - 12)
    draw.text((left + 12, 6), title, fill=_INK)
    draw.rectangle(plot, outline=_INK)
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1e-12)
    scaled = (points - low) / span
    for (x, y), group in zip(scaled, groups):
      px = plot[0] + 6 + x * (plot[2] - plot[0] - 12)
      py = plot[3] - 6 - y * (plot[3] - plot[1] - 12)
      draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour(int(group)))
  image.save(path)


def column_labels(image, labels, column_width, gap=2):
  """Returns `image` ([H, W, 3] uint8) with a strip of column titles above it.

  Args:
    image: the picture, e.g. a grid of tiles from gqn/pictures.py `grid`.
    labels: one title per column, left to right.
    column_width: width of one column (tile and gap) in pixels.
    gap: pixels before the first column.
  """
  picture = Image.fromarray(np.asarray(image, np.uint8))
  labelled = Image.new('RGB', (picture.width, picture.height + 14), _BACKGROUND)
  labelled.paste(picture, (0, 14))
  draw = ImageDraw.Draw(labelled)
  for column, label in enumerate(labels):
    draw.text((gap + column * column_width, 1), label, fill=_INK)
  return labelled

"""Charts written as PNG files by matplotlib, with no display needed.

Every chart is a `matplotlib.figure.Figure` printed by the Agg canvas: no pyplot, so no
global figure state and no backend to choose. Tick labels are plain numbers (no offset,
no scientific notation) with as many decimals as the ticks need, so that close values
such as an ELBO of 1760.1 and 1759.8 read apart instead of both as 1.76e+03.
"""

from matplotlib import ticker
from matplotlib.backends import backend_agg
from matplotlib import figure as figure_lib

PANEL_INCHES = (4.2, 3.2)  # width, height of one chart
DPI = 100
# Markers of groups beyond the ten colours of matplotlib's default cycle.
_MARKERS = 'os^Dv'


def panels(count, columns=3, title=None, panel_inches=PANEL_INCHES):
  """A figure of `count` charts in rows of `columns`.

  Args:
    count: the number of charts.
    columns: charts per row (fewer when there are fewer charts).
    title: the figure's title, or None.
    panel_inches: (width, height) of one chart in inches.

  Returns:
    (figure, list of `count` Axes, row by row).
  """
  columns = min(columns, count)
  rows = (count + columns - 1) // columns
  figure = figure_lib.Figure(figsize=(panel_inches[0] * columns, panel_inches[1] * rows),
                             dpi=DPI, constrained_layout=True)
  backend_agg.FigureCanvasAgg(figure)
  axes = figure.subplots(rows, columns, squeeze=False).ravel()
  for unused in axes[count:]:
    figure.delaxes(unused)
  if title:
    figure.suptitle(title)
  return figure, list(axes[:count])


def plain_numbers(axis):
  """Ticks of `axis` (an Axes' xaxis or yaxis) as plain numbers: no offset, no 1e+03."""
  formatter = ticker.ScalarFormatter(useOffset=False)
  formatter.set_scientific(False)
  axis.set_major_formatter(formatter)


def label(axes, title, x_label, y_label):
  """Titles an Axes and its axes, with plain-number ticks and a light grid."""
  axes.set_title(title)
  axes.set_xlabel(x_label)
  axes.set_ylabel(y_label)
  plain_numbers(axes.xaxis)
  plain_numbers(axes.yaxis)
  axes.grid(True, alpha=0.3)


def lines(axes, x_values, series, title, x_label, y_label, integer_x=False):
  """Draws lines against a shared x axis; a legend when there are several.

  Args:
    axes: a matplotlib Axes.
    x_values: the x of every point.
    series: list of (name, y values); a y of NaN is left out of its line.
    title, x_label, y_label: the chart's title and its axes' names (with units).
    integer_x: ticks only at whole numbers of x (counts such as K).
  """
  for name, values in series:
    axes.plot(x_values, values, marker='o', markersize=3, label=name)
  label(axes, title, x_label, y_label)
  if integer_x:
    axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
  if len(series) > 1:
    axes.legend(loc='best', fontsize='small')


def group_style(group):
  """(colour, marker) of group number `group`: ten colours, then other markers."""
  return 'C%d' % (group % 10), _MARKERS[(group // 10) % len(_MARKERS)]


def save(figure, path):
  """Writes `figure` to the PNG `path`."""
  figure.savefig(path, format='png')

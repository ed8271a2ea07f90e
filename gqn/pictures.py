"""Pictures of an evaluation: image grids (scenes.png, canvas_sequence.png) and flight.gif.

Also the titled grid of the scene-algebra analysis (algebra.png).
"""

import collections
import math
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

# Tiles are scaled up (nearest neighbour) to at least this many pixels.
_MIN_TILE = 64
_GAP = 2  # pixels between tiles
_FLIGHT_FRAME_MS = 100
_TITLE_HEIGHT = 14  # pixels of the strip of column titles

# What the pictures show of the first scenes of an evaluation: `scenes`, the model's
# inputs of S scenes (frames [S, K, H, W, 3], cameras, query, target [S, H, W, 3]);
# `mean_render` [S, H, W, 3]; `samples`, a list of [S, H, W, 3]; `canvases`, the first
# scene's eta_g(u_l), a list of L [H, W, 3] (empty for a model without DRAW steps).
Pictures = collections.namedtuple('Pictures', ['scenes', 'mean_render', 'samples',
                                               'canvases'])


def to_uint8(images):
  """Images in [0, 1] (clipped) -> uint8 0..255, rounded."""
  return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def grid(rows, scale):
  """[R][C] of [H, W, 3] images in [0, 1] -> one uint8 image, white gaps between tiles."""
  height, width = rows[0][0].shape[:2]
  num_cols = max(len(row) for row in rows)
  tile_h, tile_w = height * scale, width * scale
  canvas = np.full([len(rows) * (tile_h + _GAP) - _GAP, num_cols * (tile_w + _GAP) - _GAP, 3],
                   255, np.uint8)
  for r, row in enumerate(rows):
    for c, image in enumerate(row):
      tile = np.repeat(np.repeat(to_uint8(image), scale, axis=0), scale, axis=1)
      top, left = r * (tile_h + _GAP), c * (tile_w + _GAP)
      canvas[top:top + tile_h, left:left + tile_w] = tile
  return canvas


def titled_grid(rows, titles, scale):
  """`grid(rows, scale)` as a Pillow image with a strip of column titles above it.

  Args:
    rows: [R][C] of [H, W, 3] images in [0, 1].
    titles: one short title per column, left to right.
    scale: the tiles' integer scale.
  """
  picture = Image.fromarray(grid(rows, scale))
  titled = Image.new('RGB', (picture.width, picture.height + _TITLE_HEIGHT), (255, 255, 255))
  titled.paste(picture, (0, _TITLE_HEIGHT))
  draw = ImageDraw.Draw(titled)
  column_width = rows[0][0].shape[1] * scale + _GAP
  for column, title in enumerate(titles):
    draw.text((column * column_width, 1), title, fill=(0, 0, 0))
  return titled


def tile_scale(config):
  """The integer scale that shows the config's frames at least _MIN_TILE pixels wide."""
  return max(1, int(math.ceil(_MIN_TILE / float(min(config.IMG_HEIGHT, config.IMG_WIDTH)))))


def write_pictures(output_dir, pictures, config):
  """Writes scenes.png and canvas_sequence.png; returns their paths.

  scenes.png: one row per scene, context views | target | mean render | samples.
  canvas_sequence.png: eta_g(u_l), l = 1..L, of the first scene's mean render, then
  the target; not written without canvases (the GQN-VAE renders in one pass).

  Args:
    output_dir: an existing directory.
    pictures: Pictures.
    config: the GQNConfig (for the tile scale).
  """
  scale = tile_scale(config)
  scenes = pictures.scenes
  rows = []
  for i in range(len(scenes.target)):
    rows.append(list(scenes.frames[i]) + [scenes.target[i], pictures.mean_render[i]]
                + [sample[i] for sample in pictures.samples])
  scenes_path = os.path.join(output_dir, 'scenes.png')
  Image.fromarray(grid(rows, scale)).save(scenes_path)
  if not pictures.canvases:
    return [scenes_path]
  canvas_path = os.path.join(output_dir, 'canvas_sequence.png')
  Image.fromarray(grid([list(pictures.canvases) + [scenes.target[0]]], scale)).save(
      canvas_path)
  return [scenes_path, canvas_path]


def write_gifs_side_by_side(path, gif_paths, gap=4):
  """Writes one GIF whose frames are those of `gif_paths`, left to right; returns path.

  The GIFs are flights of the same length (the shorter ones hold their last frame).
  """
  movies = []
  for gif_path in gif_paths:
    with Image.open(gif_path) as movie:
      frames = []
      for index in range(getattr(movie, 'n_frames', 1)):
        movie.seek(index)
        frames.append(movie.convert('RGB'))
      movies.append(frames)
  width = sum(frames[0].width for frames in movies) + gap * (len(movies) - 1)
  height = max(frames[0].height for frames in movies)
  joined = []
  for index in range(max(len(frames) for frames in movies)):
    canvas = Image.new('RGB', (width, height), (255, 255, 255))
    left = 0
    for frames in movies:
      frame = frames[min(index, len(frames) - 1)]
      canvas.paste(frame, (left, 0))
      left += frame.width + gap
    joined.append(canvas)
  joined[0].save(path, save_all=True, append_images=joined[1:], duration=_FLIGHT_FRAME_MS,
                 loop=0)
  return path


def write_gif(path, images, config):
  """Writes [N, H, W, 3] images in [0, 1] as a looping GIF at 10 frames/s; returns path."""
  scale = tile_scale(config)
  frames = [Image.fromarray(grid([[image]], scale)) for image in images]
  frames[0].save(path, save_all=True, append_images=frames[1:], duration=_FLIGHT_FRAME_MS,
                 loop=0)
  return path

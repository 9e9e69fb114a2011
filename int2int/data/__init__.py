"""The data path: where a batch comes from, and where evaluation sets come from.

A training batch comes from :func:`int2int.data.sources.training_source`, which picks one source from
``cfg.data``: the task's generator (fresh examples every step), a training file (in memory or streamed), a
data budget (a fixed pool drawn with repetition) or two-set training (a repeated subset mixed with the rest).
Sources hand out :class:`~int2int.data.examples.Examples` (padded token ids and lengths);
:func:`~int2int.data.tensors.to_tensors` turns them into model tensors. Evaluation sets come from
:func:`~int2int.data.eval_sets.eval_sets`; files are read and written by :mod:`int2int.data.files`;
``mode=export`` is :mod:`int2int.data.export`. Every random choice draws from its own stream
(:mod:`int2int.data.streams`).
"""

from .examples import Examples, fits

__all__ = ["Examples", "fits"]

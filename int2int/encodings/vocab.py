"""The vocabulary: the original's special tokens first, then the task's symbols, in a fixed order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

SPECIAL_TOKENS: tuple[str, ...] = ("<eos>", "<pad>", "<sep>", "(", ")") + tuple(f"<SPECIAL_{i}>" for i in range(10))
EOS, PAD, SEP = 0, 1, 2


class Vocabulary:
    """Maps tokens to ids and back; ``<eos>`` is 0, ``<pad>`` 1 and ``<sep>`` 2 in every vocabulary.

    Symbols are kept in the order given, once each (the input's and the output's encodings often share
    tokens, such as the digits of a positional integer and of a symbolic rank)."""

    def __init__(self, symbols: Iterable[str]):
        symbols = list(dict.fromkeys(symbols))
        clash = sorted(set(symbols) & set(SPECIAL_TOKENS))
        if clash:
            raise ValueError(f"task symbols clash with special tokens: {clash}")
        self.itos: list[str] = list(SPECIAL_TOKENS) + symbols
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self._itos_array = np.array(self.itos, dtype=object)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def id(self, token: str) -> int:
        return self.stoi[token]

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """Token strings to ids; raises KeyError naming the first unknown token."""
        try:
            return [self.stoi[t] for t in tokens]
        except KeyError as err:
            raise KeyError(f"token {err.args[0]!r} is not in the vocabulary") from None

    def tokens(self, ids: Sequence[int] | np.ndarray) -> list[str]:
        return list(self._itos_array[np.asarray(ids, dtype=np.int64)])

    def lines(self, ids: np.ndarray, lengths: np.ndarray) -> list[str]:
        """Rows of a padded id matrix as space-separated token strings (export and logs)."""
        words = self._itos_array[ids]
        return [" ".join(row[:n]) for row, n in zip(words, lengths)]

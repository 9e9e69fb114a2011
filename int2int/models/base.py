"""What every architecture is: its base options, and the contract the training loop and the decoders rely on.

A model computes next-token logits under teacher forcing (:meth:`Seq2SeqModel.logits`) and its loss;
autoregressive models also expose one decoding step (:meth:`start`, :meth:`step`, :meth:`reorder`), from which
:meth:`generate` gets greedy decoding and beam search for free; non-autoregressive models (encoder-only)
override :meth:`predict` instead. Initialisation, weight tying, the auxiliary loss (ACT's ponder cost) and
parameter counts live here, once. An architecture is one module registered with
``@ARCHITECTURES.register("<name>", config=<Config>)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import Config, ConfigError, Options, Registry, opt
from ..encodings.vocab import PAD

ARCHITECTURES: Registry[type[Seq2SeqModel]] = Registry("architecture")


@dataclass
class ArchitectureConfig(Options):
    """Options every architecture has."""

    section: ClassVar[str] = "architecture"
    name: str = opt("encoder_decoder", "Model family: encoder_decoder, encoder_only, decoder_only, lstm or gru.")
    n_enc_layers: int = opt(1, "Encoder layers (original default 4); for lstm/gru the encoder's recurrent layers.")
    n_dec_layers: int = opt(1, "Decoder layers (original default 4); for lstm/gru the decoder's recurrent layers.")
    enc_emb_dim: int = opt(128, "Encoder embedding dimension (original default 256).")
    dec_emb_dim: int = opt(128, "Decoder embedding dimension (original default 256).")
    dropout: float = opt(0.0, "Dropout on embeddings, attention outputs and feed-forward outputs.")
    share_inout_emb: bool = opt(True, "Tie the decoder's output projection to its input embeddings.")
    xavier_init: bool = opt(False, "Xavier-uniform initialisation of linear layers.")

    def check(self, cfg: Config) -> None:
        self.require_positive("enc_emb_dim", "dec_emb_dim", "n_dec_layers")
        self.require_positive("n_enc_layers", strict=False)
        self.require(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")


class Seq2SeqModel(nn.Module):
    #: Decodes one token at a time (greedy, beam search); False: predicts every output position at once.
    autoregressive: ClassVar[bool] = True

    def __init__(self, a: ArchitectureConfig, vocab_size: int):
        super().__init__()
        self.cfg, self.vocab_size = a, vocab_size
        self._aux: torch.Tensor | float = 0.0

    def finish_init(self, proj: nn.Linear, out_embedding: nn.Embedding, *stacks: Any) -> None:
        """Tie the output projection to the output embeddings (``share_inout_emb``), apply Xavier initialisation
        (``xavier_init``), and check that copy gates and ACT have looped layers to act on."""
        if self.cfg.share_inout_emb:
            proj.weight = out_embedding.weight
        if self.cfg.xavier_init:
            for m in self.modules():
                if isinstance(m, nn.Linear) and m.weight is not out_embedding.weight:
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
            for stack in stacks:
                if stack.loop is not None:
                    stack.loop.init_special()
        for key in ("gated", "act"):
            if getattr(self.cfg, key, False) and not any(s.plan.looped for s in stacks):
                raise ConfigError(f"architecture.{key}=true acts on looped layers, and architecture={self.cfg.name} "
                                  "has none: set architecture.enc_loop_idx or dec_loop_idx (-2: all layers, k: layer "
                                  "k) and architecture.enc_loops/dec_loops")

    def logits(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        """Logits (B x T x V) of each output token given ``x <eos>`` and the decoder input ``<eos> y``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor) -> torch.Tensor:
        """The training entry point (what DDP and ``torch.compile`` wrap): summed target cross-entropy."""
        return self.loss(x, x_len, y_in, y_out, reduction="sum")

    def loss(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor, y_out: torch.Tensor,
             reduction: str = "mean") -> torch.Tensor:
        """Token cross-entropy of the targets ``y <eos>`` (``<pad>`` ignored)."""
        logits = self.logits(x, x_len, y_in)
        return F.cross_entropy(logits.flatten(0, 1).float(), y_out.flatten(), ignore_index=PAD, reduction=reduction)

    def aux_loss(self) -> torch.Tensor | float:
        """An extra training cost of the last forward pass (adaptive computation's ponder cost), added to the mean
        token loss by the training step."""
        return self._aux

    #: Parameter name prefixes of checkpoints written before the model's parts were shared (old -> new).
    legacy_names: ClassVar[tuple[tuple[str, str], ...]] = ()

    def load_state_dict(self, state: dict[str, Any], strict: bool = True, assign: bool = False):
        """Also loads checkpoints whose parameters have the names of int2int 0.1 (``enc_layers.0...``)."""
        renamed = {}
        for key, value in state.items():
            for old, new in self.legacy_names:
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
            renamed[key] = value
        return super().load_state_dict(renamed, strict=strict, assign=assign)

    def check_task(self, task: Any, max_len: int = 10**9) -> None:
        """Raise ConfigError before training when the task's sequences (at most ``max_len`` tokens, the examples'
        limit) cannot fit the architecture."""

    def max_steps(self, max_len: int) -> int:
        """Decoding steps for outputs of up to ``max_len`` tokens (plus ``<eos>``)."""
        return max(1, max_len + 1)

    # -- autoregressive decoding ---------------------------------------------------------------
    def start(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> Any:
        """Decoding state for inputs ``x`` (encoder output, caches) for up to ``max_len`` steps."""
        raise NotImplementedError(f"{type(self).__name__} does not decode step by step")

    def step(self, state: Any, tokens: torch.Tensor, pos: int) -> torch.Tensor:
        """Logits (B x V) of the token after ``tokens`` (B,), the decoder input at position ``pos``."""
        raise NotImplementedError

    def reorder(self, state: Any, index: torch.Tensor) -> Any:
        """The state of the rows ``index`` (evaluation decodes a subset of a batch)."""
        raise NotImplementedError

    def reorder_beams(self, state: Any, index: torch.Tensor) -> Any:
        """The state of beam search's hypotheses ``index``, rows input-major (K per input), each taken from its own
        input's rows: beam search first repeats every input K times, then at each step keeps or repeats hypotheses
        within their input. So a model may keep what depends on the input alone (an encoder's memory) once per
        input; by default every row is moved (:meth:`reorder`)."""
        return self.reorder(state, index)

    def teacher_forced_positions(self, state: Any) -> int:
        """How many decoder positions of the teacher-forced pass the decoding state from :meth:`logits_and_start`
        holds (their keys and values): greedy decoding can take up after them (see :func:`~int2int.decoding.greedy`'s
        ``prefix``). 0 by default."""
        return 0

    def logits_and_start(self, x: torch.Tensor, x_len: torch.Tensor, y_in: torch.Tensor,
                         max_len: int) -> tuple[torch.Tensor, Any]:
        """Teacher-forced logits and the decoding state of the same inputs for outputs of up to ``max_len`` tokens
        (what :meth:`generate` would build), or None: an evaluation computes both, and a model with an encoder
        shares its pass between them."""
        return self.logits(x, x_len, y_in), None

    def predict(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int) -> tuple[torch.Tensor, ...]:
        """Outputs, lengths and ended flags in one pass (non-autoregressive models)."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(self, x: torch.Tensor, x_len: torch.Tensor, max_len: int, beam_size: int = 1,
                 length_penalty: float = 1.0, early_stopping: bool = True,
                 state: Any = None, prefix: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Decoded outputs: greedy ``(out B x T, lengths, ended)``, or with ``beam_size`` > 1 the finished
        hypotheses ``(out B x K x T, lengths B x K, ended B x K, scores B x K)``, best first. ``state``: the decoding
        state of these inputs if already built (:meth:`logits_and_start`); ``prefix``: greedy decoding's first
        tokens when already known (see :func:`~int2int.decoding.greedy`)."""
        from ..decoding import beam_search, greedy

        if beam_size == 1:
            return greedy(self, x, x_len, max_len, state, prefix)
        return beam_search(self, x, x_len, max_len, beam_size, length_penalty, early_stopping, state)

    # -- size ----------------------------------------------------------------------------------
    def embedding_params(self) -> int:
        """Parameters of token and position embeddings, and of an untied output projection ``proj``
        (excluded from FLOP estimates)."""
        n = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Embedding))
        proj = getattr(self, "proj", None)
        if isinstance(proj, nn.Linear) and not self.cfg.share_inout_emb:
            n += proj.weight.numel()
        return n

    def n_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.embedding_params() if non_embedding else n


def build_model(a: ArchitectureConfig, vocab_size: int) -> Seq2SeqModel:
    """The model of ``architecture.name`` for a vocabulary of ``vocab_size`` tokens."""
    return ARCHITECTURES.get(a.name)(a, vocab_size)

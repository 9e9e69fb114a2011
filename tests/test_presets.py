"""Presets say what they claim: ``+preset=original`` is the original Int2Int's defaults, fact by fact.

The expected values are written out here from ``../shared/notes/int2int-reference.md`` ("Defaults of the
original"), not read from the preset, so a preset edited by mistake fails.
"""

from __future__ import annotations

from conftest import make_config

from int2int.config import flatten, to_dict

# The original's command-line defaults, as int2int keys (int2int-reference.md, "Defaults of the original").
ORIGINAL_DEFAULTS = {
    "architecture.n_enc_layers": 4, "architecture.n_dec_layers": 4,
    "architecture.enc_emb_dim": 256, "architecture.dec_emb_dim": 256,
    "architecture.n_enc_heads": 8, "architecture.n_dec_heads": 8,
    "architecture.ffn_mult": 4, "architecture.activation": "relu",
    "architecture.dropout": 0.0, "architecture.attention_dropout": 0.0,
    "architecture.positional_embeddings": "learned", "architecture.share_inout_emb": True,
    "architecture.n_enc_hidden_layers": 1, "architecture.norm": "post",
    "schedule.batch_size": 32, "optimizer.lr": 1e-4, "optimizer.clip_grad_norm": 5.0,
    "schedule.epoch_size": 300_000, "schedule.max_epoch": 100_000, "data.max_len": 512,
    "eval.size": 10_000, "eval.batch_size": 128, "eval.beam_size": 1,
    "eval.beam_length_penalty": 1.0, "eval.beam_early_stopping": True,
    "encoding.base": 1000, "data.repeat_prob": 0.25,
}


def test_the_original_preset_is_the_originals_defaults():
    cfg = make_config("+preset=original")
    flat = flatten(to_dict(cfg))
    assert {k: flat[k] for k in ORIGINAL_DEFAULTS} == ORIGINAL_DEFAULTS
    # Adam without warm-up or schedule, no weight decay; an encoder-decoder on positional integers
    assert (cfg.optimizer.name, cfg.schedule.name, cfg.architecture.name, cfg.encoding.name) == \
        ("adam", "constant", "encoder_decoder", "positional")
    assert flat["optimizer.weight_decay"] == 0.0
    # the task options the original shares (--minint 1 --maxint 1000000 --modulus 67 --max_class 101)
    gcd = make_config("+preset=original", "task=gcd").task
    assert (gcd.min_int, gcd.max_int, gcd.max_class) == (1, 1_000_000, 101)
    assert make_config("+preset=original", "task=modular_add").task.modulus == 67

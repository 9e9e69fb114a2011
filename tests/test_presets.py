"""Presets say what they claim: ``+preset=original`` is the original Int2Int's defaults, fact by fact.

The expected values are written out here from ``../shared/notes/int2int-reference.md`` ("Defaults of the
original"), not read from the preset, so a preset edited by mistake fails.
"""

from __future__ import annotations

import pytest

from omegaconf import OmegaConf

from conftest import ROOT, make_config

from int2int.config import flatten, to_dict

def preset_params(name: str) -> dict:
    """The sweep axes a preset sets (``hydra.sweeper.params``; its defaults list's presets first)."""
    node = OmegaConf.load(ROOT / "sweeps" / f"{name}.yaml")
    params: dict = {}
    for parent in node.get("defaults", []):
        if isinstance(parent, str):
            params.update(preset_params(parent))
    params.update(OmegaConf.to_container(node).get("hydra", {}).get("sweeper", {}).get("params", {}))
    return params


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


# LAWT's sweeps (lawt-reference.md section 4), as int2int keys: task, size, encoder and decoder layers / dims / heads,
# optimiser, input / output encodings, max_len / max output length, stopping patience.
LAWT_ALL = {"schedule.batch_size": 64, "schedule.epoch_size": 300_000, "hardware.precision": "fp16",
            "optimizer.clip_grad_norm": 5.0, "architecture.dropout": 0.0,
            "architecture.positional_embeddings": "learned",
            "architecture.share_inout_emb": True, "task.coeff_max": 10.0, "task.tolerance": 0.05}
LAWT_SWEEPS = {
    # preset: (task, dim, (enc L, dim, heads), (dec L, dim, heads), (schedule, lr, warmup), (in, out), lens, stop)
    "lawt_transpose": ("matrix_transpose", 10, (1, 256, 8), (1, 256, 8), ("constant", 1e-4, 0), ("p1000", ""),
                       (512, 512), 30),
    "lawt_sum": ("matrix_sum", 10, (2, 512, 8), (2, 512, 8), ("inverse_sqrt", 5e-5, 10_000), ("b1999", ""),
                 (440, 220), 60),
    "lawt_product": ("matrix_product", 5, (1, 512, 8), (4, 512, 8), ("inverse_sqrt", 5e-5, 10_000), ("p1000", ""),
                     (200, 80), 60),
    "lawt_eigenvalues": ("eigenvalues", 5, (6, 512, 8), (1, 512, 8), ("warmup_cosine", 1e-4, 10_000), ("fp15", ""),
                         (30, 10), 200),
    "lawt_eigenvectors": ("eigenvectors", 5, (6, 512, 8), (1, 512, 8), ("warmup_cosine", 1e-4, 10_000),
                          ("fp15", "p1000"), (100, 100), 60),
    "lawt_inverse": ("matrix_inverse", 5, (6, 516, 12), (1, 512, 8), ("inverse_sqrt", 1e-4, 10_000), ("fp15", "p1000"),
                     (80, 80), 60),
    "lawt_ev_generators": ("eigenvalues", 5, (6, 512, 8), (1, 512, 8), ("warmup_cosine", 1e-4, 10_000),
                           ("fp15", "p1000"), (30, 30), 200),
}


@pytest.mark.parametrize("preset", list(LAWT_SWEEPS))
def test_the_lawt_presets_are_lawts_sweeps(preset):
    task, dim, enc, dec, (schedule, lr, warmup), (enc_in, enc_out), (max_len, max_out), stop = LAWT_SWEEPS[preset]
    cfg = make_config(f"+sweep={preset}")
    flat = flatten(to_dict(cfg))
    assert {k: flat[k] for k in LAWT_ALL} == LAWT_ALL
    a = cfg.architecture
    assert (cfg.task.name, cfg.task.dim) == (task, dim)
    assert (a.n_enc_layers, a.enc_emb_dim, a.n_enc_heads) == enc
    assert (a.n_dec_layers, a.dec_emb_dim, a.n_dec_heads) == dec
    assert (cfg.schedule.name, cfg.optimizer.lr, cfg.schedule.warmup_steps) == (schedule, lr, warmup)
    assert (cfg.encoding.name, cfg.encoding.output) == (enc_in, enc_out)
    assert (cfg.data.max_len, cfg.eval.max_output_len) == (max_len, max_out)
    assert cfg.schedule.stopping_criterion == f"valid_acc,{stop}"
    if schedule == "warmup_cosine":  # LAWT's cosine: 1e-4 down to 1e-5 over a period of 4M steps
        assert (cfg.schedule.min_lr_ratio, cfg.schedule.period_steps) == (0.1, 4_000_000)


def test_the_ev_generators_preset_trains_on_each_spectrum_and_tests_on_the_others():
    cfg = make_config("+sweep=lawt_ev_generators")
    spectra = {"semicircle", "positive", "uniform", "gaussian", "laplace", "positive2", "marcenko"}
    assert {v["eigen_distribution"] for v in cfg.eval.generated.values()} == spectra - {"semicircle"}
    swept = preset_params("lawt_ev_generators")["task.eigen_distribution"]
    assert set(swept.split(",")) == spectra


# The GCD paper's setup (paper-results.md, "Learning the greatest common divisor"): 4+4 layers, 512 dims, 8 heads,
# Adam lr 1e-5, batch 256, no schedule, operands uniform in 1..10^6, epochs of 300,000, a stratified test set.
GCD_PAPER_SETUP = {
    "task.name": "gcd", "task.min_int": 1, "task.max_int": 1_000_000, "task.operands": "uniform",
    "task.stratified_eval": True,
    "architecture.n_enc_layers": 4, "architecture.n_dec_layers": 4,
    "architecture.enc_emb_dim": 512, "architecture.dec_emb_dim": 512,
    "architecture.n_enc_heads": 8, "architecture.n_dec_heads": 8,
    "optimizer.name": "adam", "optimizer.lr": 1e-5, "schedule.name": "constant", "schedule.warmup_steps": 0,
    "schedule.batch_size": 256, "schedule.epoch_size": 300_000,
}
TABLE_2_BASES = [2, 3, 4, 5, 6, 7, 10, 11, 12, 15, 30, 31, 60, 100, 210, 211, 420, 997, 1000, 1024]


def swept(name: str, key: str) -> list:
    """The values a preset sweeps for ``key``, parsed as Hydra does (``0,1,2`` -> [0, 1, 2])."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    o = OverridesParser.create().parse_overrides([f"{key}={preset_params(name)[key]}"])[0]
    return list(o.sweep_iterator()) if o.is_sweep_override() else [o.value()]


@pytest.mark.parametrize("preset", ["gcd_bases", "gcd_table2", "gcd_base30", "gcd_loguniform"])
def test_the_gcd_presets_are_the_papers_setup(preset):
    flat = flatten(to_dict(make_config(f"+sweep={preset}")))
    assert {k: flat[k] for k in GCD_PAPER_SETUP if k != "task.operands"} == \
        {k: v for k, v in GCD_PAPER_SETUP.items() if k != "task.operands"}


def test_the_gcd_sweeps_cover_the_papers_bases_and_seeds():
    assert swept("gcd_bases", "encoding.base") == TABLE_2_BASES
    assert swept("gcd_table2", "encoding.base") == TABLE_2_BASES and swept("gcd_table2", "seed") == list(range(6))
    assert swept("gcd_base30", "encoding.base") == [30] and swept("gcd_base30", "seed") == list(range(6))
    assert swept("gcd_loguniform", "task.operands") == ["uniform", "loguniform"]
    assert swept("gcd_loguniform", "encoding.base") == [10, 1000]  # the paper's log-uniform bases
    assert swept("gcd_bases_cpu", "encoding.base") == [2, 6, 10, 30, 31, 210]

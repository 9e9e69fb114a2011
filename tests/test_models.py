"""Architectures and their options: each learns, checkpoints, resumes and decodes (greedy, beam), and
its key/value-cached decoding gives exactly what rerunning the model on growing prefixes gives."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hydra.errors import ConfigCompositionException

from conftest import TINY, make_config
from int2int.data.eval_sets import eval_sets
from int2int.data.sources import Source
from int2int.data.tensors import to_tensors
from int2int.decoding import beam_search, greedy
from int2int.encodings import EOS, PAD
from int2int.evaluate import decode, evaluate
from int2int.models import ARCHITECTURES, build_model
from int2int.models.layers import PLAIN_MAX_KEYS, TransformerConfig, attend
from int2int.run_files import read_metrics
from int2int.tasks import build_task
from int2int.train import train


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread, above all on busy machines."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


A = "architecture."
LOOPED_DEC = [f"{A}n_dec_layers=2", f"{A}dec_loop_idx=1", f"{A}dec_loops=3"]
#: one case per architecture and option family (the defaults of each architecture first); with
#: act_threshold=0.75 the positions of these tiny models halt after different numbers of loops
#: (1 or 2), so cached decoding is checked against per-position halting
CASES = {
    "enc_dec": ["architecture=encoder_decoder"],
    "enc_dec_sinusoidal_gelu_post": [f"{A}positional_embeddings=sinusoidal", f"{A}activation=gelu", f"{A}norm=post",
                                     f"{A}dropout=0.1", f"{A}attention_dropout=0.1"],
    "enc_dec_nopos_qknorm_xavier_deep_ffn_untied": [
        f"{A}positional_embeddings=none", f"{A}norm_attention=true", f"{A}xavier_init=true",
        f"{A}n_enc_hidden_layers=2", f"{A}n_dec_hidden_layers=2", f"{A}share_inout_emb=false"],
    "enc_dec_loops_gated": [*LOOPED_DEC, f"{A}enc_loop_idx=0", f"{A}enc_loops=2", f"{A}gated=true"],
    "enc_dec_all_layers_looped_act": [f"{A}n_dec_layers=2", f"{A}dec_loop_idx=-2", f"{A}dec_loops=3",
                                      f"{A}enc_loop_idx=-2", f"{A}enc_loops=2", f"{A}act=true",
                                      f"{A}act_threshold=0.75"],
    "enc_only": ["architecture=encoder_only"],
    "enc_only_post_loops_gated_act": ["architecture=encoder_only", f"{A}norm=post", f"{A}enc_loop_idx=-2",
                                      f"{A}enc_loops=3", f"{A}gated=true", f"{A}act=true"],
    "dec_only": ["architecture=decoder_only"],
    "dec_only_loss_on_input_sinusoidal_post": ["architecture=decoder_only", f"{A}loss_on_input=true",
                                               f"{A}positional_embeddings=sinusoidal", f"{A}norm=post"],
    "dec_only_loops_gated_act_qknorm": ["architecture=decoder_only", *LOOPED_DEC, f"{A}gated=true", f"{A}act=true",
                                        f"{A}act_threshold=0.75", f"{A}norm_attention=true", f"{A}activation=gelu"],
    "lstm_attention": ["architecture=lstm", f"{A}hidden_dim=48"],
    "gru_no_attention_2_layers": ["architecture=gru", f"{A}hidden_dim=48", f"{A}rnn_attention=false",
                                  f"{A}n_enc_layers=2", f"{A}n_dec_layers=2", f"{A}share_inout_emb=false",
                                  f"{A}dropout=0.1"],
}


def setup(overrides, n=32, seed=0):
    cfg = make_config(*TINY, "encoding.base=10", *overrides)
    task = build_task(cfg)
    torch.manual_seed(seed)
    model = build_model(cfg.architecture, len(task.vocab))
    batch = to_tensors(task.generate(np.random.default_rng(0), n), torch.device("cpu"))
    return cfg, task, model, batch


def fit(model, b, steps=20, lr=3e-3) -> list[float]:
    """Adam steps on one batch, the way the trainer steps: mean token loss + aux_loss()."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(b.x, b.x_len, b.y_in, b.y_out) / b.n_tokens
        (loss + model.aux_loss()).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return losses


def uncached_greedy(model, b, max_len) -> torch.Tensor:
    """Greedy decoding without any cache: rerun the whole model on the growing prefix at every step."""
    seq = torch.full((b.x.shape[0], 1), EOS)
    with torch.no_grad():
        for _ in range(max_len + 1):
            nxt = model.logits(b.x, b.x_len, seq)[:, -1].argmax(-1)
            seq = torch.cat([seq, nxt[:, None]], dim=1)
    return seq[:, 1:]


def assert_same_as_reference(out, lengths, ended, ref, max_len):
    for i in range(ref.shape[0]):
        r = ref[i].tolist()
        n = r.index(EOS) if EOS in r else max_len + 1
        assert bool(ended[i]) == (EOS in r), i
        assert int(lengths[i]) == n, i
        assert out[i, :n].tolist() == r[:n], i


@pytest.mark.parametrize("case", list(CASES))
def test_option_family_learns_checkpoints_and_decodes_like_uncached(case):
    cfg, task, model, b = setup(CASES[case])
    losses = fit(model, b)
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:4]), losses

    model.eval()
    max_len = task.max_output_len
    out, lengths, ended = greedy(model, b.x, b.x_len, max_len)
    assert out.shape[0] == 32 and bool((lengths <= max_len + 1).all())
    bo, bl, be, scores = beam_search(model, b.x, b.x_len, max_len, 3)
    if model.autoregressive:
        assert bo.shape[:2] == (32, 3)
        assert bool((scores[:, :-1] >= scores[:, 1:] - 1e-6).all())  # best first
        # the cache (one per layer application, loops and ACT included) changes nothing
        assert_same_as_reference(out, lengths, ended, uncached_greedy(model, b, max_len), max_len)
        # a beam of one is greedy decoding (reorder keeps the right rows)
        b1, l1, e1, _ = beam_search(model, b.x, b.x_len, max_len, 1)
        assert torch.equal(l1[:, 0], lengths) and torch.equal(e1[:, 0], ended)
        assert torch.equal(b1[:, 0, : out.shape[1]], out)
        # decoding from the teacher-forced pass's state (its encoder output, when it shares it) changes nothing
        with torch.no_grad():
            logits, state = model.logits_and_start(b.x, b.x_len, b.y_in, max_len)
            assert torch.allclose(logits, model.logits(b.x, b.x_len, b.y_in), atol=1e-6)
            if state is not None:
                rows = torch.tensor([3, 0, 17, 31])
                sub = greedy(model, b.x[rows], b.x_len[rows], max_len, model.reorder(state, rows))
                assert torch.equal(sub[1], lengths[rows]) and torch.equal(sub[2], ended[rows])
                assert torch.equal(sub[0], out[rows][:, : sub[0].shape[1]])
                shared = beam_search(model, b.x, b.x_len, max_len, 3, state=state)
                assert all(torch.equal(u, v) for u, v in zip(shared, (bo, bl, be, scores)))
                # evaluation's greedy decoding takes up after the teacher-forced pass's known prefix: the rows it
                # decodes (the imperfect ones), then only those whose first wrong token comes later (a longer
                # prefix), get what decoding from scratch gives
                kept = model.teacher_forced_positions(state)
                assert kept == (b.y_in.shape[1] if case.startswith("enc_dec") and "act" not in case else 0)
                pred = logits.argmax(-1)
                wrong = (pred != b.y_out) & (b.y_out != PAD)
                first_wrong = torch.where(wrong.any(1), wrong.int().argmax(dim=1), pred.shape[1]).numpy()
                # after its first wrong token a row's teacher-forced argmax is not what greedy decoding gives (its
                # inputs differ): <pad> there, which decoding cannot produce, shows a prefix taken too far
                after = torch.arange(pred.shape[1])[None, :] > torch.from_numpy(first_wrong)[:, None]
                pred = torch.where(after, PAD, pred)
                ex = task.generate(np.random.default_rng(0), 32)
                assert torch.equal(to_tensors(ex, torch.device("cpu")).x, b.x)
                perfect = first_wrong == pred.shape[1]  # evaluation decodes only the others
                later = ~perfect & (first_wrong >= 1)
                for skipped in (perfect, ~later):
                    got, got_len, got_ended = decode(model, b, ex, skipped, SimpleNamespace(beam_size=1), max_len,
                                                     state, pred)
                    rows = np.nonzero(~skipped)[0]
                    assert np.array_equal(got_len[rows, 0], lengths.numpy()[rows])
                    assert np.array_equal(got_ended[rows, 0], ended.numpy()[rows])
                    assert np.array_equal(got[rows, 0, : out.shape[1]], out.numpy()[rows])
                    assert (got[rows, 0, out.shape[1]:] == PAD).all()
        # an encoder's memory kept once per input for its hypotheses (reorder_beams) decodes as moving every row
        model.reorder_beams = model.reorder
        try:
            moved = beam_search(model, b.x, b.x_len, max_len, 3)
        finally:
            del model.reorder_beams
        assert all(torch.equal(u, v) for u, v in zip(moved[:3], (bo, bl, be)))
        assert torch.allclose(moved[3], scores, atol=1e-5)
    else:
        assert bo.shape[1] == 1 and torch.equal(bl[:, 0], lengths)
        tokens = model.logits(b.x, b.x_len, torch.zeros(32, max_len + 1, dtype=torch.long)).argmax(-1)
        assert_same_as_reference(out, lengths, ended, tokens, max_len)

    # checkpoint: a fresh model (other seed) loading the state dict computes the same logits
    torch.manual_seed(123)
    clone = build_model(cfg.architecture, len(task.vocab)).eval()
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.allclose(clone.logits(b.x, b.x_len, b.y_in), model.logits(b.x, b.x_len, b.y_in), atol=1e-6)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_each_architecture_trains_resumes_and_beam_beats_greedy(arch, tmp_path):
    overrides = [*TINY, f"architecture={arch}", "encoding.base=10", "schedule.epoch_size=384", "schedule.batch_size=32",
                 "optimizer.lr=0.003", "eval.size=100", "eval.beam_size=3", "hardware.num_threads=1",
                 *(["architecture.hidden_dim=32"] if arch in ("lstm", "gru") else [])]
    first = train(make_config(*overrides, "schedule.max_epoch=1"), tmp_path)
    second = train(make_config(*overrides, "schedule.max_epoch=2"), tmp_path)  # resumes from checkpoint.pt
    assert [r["epoch"] for r in read_metrics(tmp_path)] == [1, 2]
    assert second["examples"] == 2 * 384
    assert second["train_loss"] < first["train_loss"]
    # greedy decoding of the trained model: beam top-3 accuracy is at least as high
    cfg = make_config(*overrides, "eval.beam_size=1")
    task = build_task(cfg)
    model = build_model(cfg.architecture, len(task.vocab))
    model.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"])
    valid = eval_sets(cfg, task, Source())["valid"]
    metrics = evaluate(model, task, valid, cfg.eval, task.max_output_len, torch.device("cpu")).metrics
    assert metrics["valid_acc"] <= second["valid_acc"]
    if arch in ("encoder_only",):  # non-autoregressive: beam search is the one-pass prediction
        assert metrics["valid_acc"] == second["valid_acc"] == second["valid_top1_acc"]


def test_act_ponder_cost_is_positive_and_reaches_the_loss():
    looped = [f"{A}enc_loop_idx=0", f"{A}enc_loops=4", f"{A}act=true"]
    _, _, model, b = setup(looped)
    model(b.x, b.x_len, b.y_in, b.y_out)
    aux = model.aux_loss()
    assert torch.is_tensor(aux) and aux.requires_grad
    # ponder cost N + R >= 1 at every position: the aux loss is at least the coupling
    assert float(aux.detach()) >= model.cfg.act_ponder_coupling
    aux.backward()
    assert model.encoder.loop.halt.weight.grad.abs().sum() > 0  # the halting unit learns from the ponder cost
    # the coupling scales it linearly, 0 switches it off
    _, _, double, _ = setup([*looped, f"{A}act_ponder_coupling=0.02"])
    double(b.x, b.x_len, b.y_in, b.y_out)
    assert torch.isclose(double.aux_loss(), 2 * aux.detach())
    _, _, off, _ = setup([*looped, f"{A}act_ponder_coupling=0"])
    off(b.x, b.x_len, b.y_in, b.y_out)
    assert float(off.aux_loss().detach()) == 0.0
    # a threshold every first halting probability reaches: one iteration, remainder 1, ponder cost 2
    _, _, quick, _ = setup([*looped, f"{A}act_threshold=0.01"])
    quick(b.x, b.x_len, b.y_in, b.y_out)
    assert torch.isclose(quick.aux_loss(), torch.tensor(2 * quick.cfg.act_ponder_coupling))


def test_act_ponder_cost_reaches_the_training_loss():
    """Stepping on mean token loss + aux_loss(), as the trainer does, lowers the ponder cost."""
    cfg, task, model, b = setup([f"{A}dec_loop_idx=0", f"{A}dec_loops=4", f"{A}act=true", f"{A}act_ponder_coupling=1"])
    model(b.x, b.x_len, b.y_in, b.y_out)
    before = float(model.aux_loss().detach())
    fit(model, b, steps=15, lr=1e-2)
    model(b.x, b.x_len, b.y_in, b.y_out)
    assert float(model.aux_loss().detach()) < before


def test_encoder_only_rejects_outputs_longer_than_inputs():
    a = TransformerConfig(name="encoder_only", n_enc_layers=1, enc_emb_dim=16, n_enc_heads=2)
    model = build_model(a, 20)
    with pytest.raises(ValueError, match=r"architecture=encoder_only.*output up to 5 tokens, input up to 3"):
        model.check_task(SimpleNamespace(max_input_len=3, max_output_len=5))
    model.check_task(SimpleNamespace(max_input_len=5, max_output_len=5))
    cfg = make_config(*TINY, "architecture=encoder_only")
    model.check_task(build_task(cfg))  # gcd: outputs never longer than inputs


def test_every_architecture_has_check_task():
    for name in ARCHITECTURES:
        size = {"hidden_dim": 16} if name in ("lstm", "gru") else {"max_positions": 32}
        model = build_model(ARCHITECTURES.schemas[name](name=name, enc_emb_dim=16, dec_emb_dim=16, **size), 20)
        model.check_task(SimpleNamespace(max_input_len=10, max_output_len=5))
        if name == "decoder_only":  # 30 + 30 + 3 tokens
            with pytest.raises(ValueError, match="decoder_only.*max_positions=32"):
                model.check_task(SimpleNamespace(max_input_len=30, max_output_len=30))


def test_encoder_only_reads_outputs_longer_than_a_short_input():
    """One example whose output outgrows its input still trains: extra <pad> positions carry the output."""
    _, _, model, b = setup(["architecture=encoder_only"], n=4)
    y_in = torch.full((4, b.x.shape[1] + 3), 5)
    logits = model.logits(b.x, b.x_len, y_in)
    assert logits.shape[:2] == y_in.shape and torch.isfinite(logits).all()


def test_decoder_only_loss_on_input_trains_the_input_part():
    _, _, plain, b = setup(["architecture=decoder_only"])
    _, _, both, _ = setup(["architecture=decoder_only", f"{A}loss_on_input=true"])
    out_plain = plain(b.x, b.x_len, b.y_in, b.y_out)
    out_both = both(b.x, b.x_len, b.y_in, b.y_out)
    assert torch.allclose(out_plain, out_both)  # same weights: same output-part loss
    assert plain.aux_loss() == 0.0
    aux = both.aux_loss()
    assert float(aux.detach()) > 0 and aux.requires_grad
    # the input part is the cross-entropy of `x <sep>` given `<eos> x`, over the output token count
    n_in = int(b.x_len.sum())
    log_v = np.log(len(plain.emb.tok.weight))
    assert 0.5 * log_v < float(aux.detach()) * b.n_tokens / n_in < 3 * log_v
    # evaluation's loss is the output part alone, as for every architecture
    assert torch.allclose(both.loss(b.x, b.x_len, b.y_in, b.y_out, reduction="sum"), out_both)


def test_decoder_only_sequences_are_packed_per_row():
    _, _, model, _ = setup(["architecture=decoder_only"])
    x = torch.tensor([[7, 8, EOS], [9, EOS, PAD]])
    y_in = torch.tensor([[EOS, 5, PAD], [EOS, 5, 6]])
    y_out = torch.tensor([[5, EOS, PAD], [5, 6, EOS]])
    seq, tgt = model._sequences(x, torch.tensor([3, 2]), y_in, y_out)
    SEP = 2
    assert seq.tolist() == [[EOS, 7, 8, SEP, 5, PAD], [EOS, 9, SEP, 5, 6, PAD]]
    assert tgt.tolist() == [[7, 8, SEP, 5, EOS, PAD], [9, SEP, 5, 6, EOS, PAD]]


def test_gates_and_act_need_a_looped_layer():
    for key in ("gated", "act"):
        with pytest.raises(ValueError, match=f"architecture.{key}=true acts on looped layers"):
            build_model(TransformerConfig(**{key: True}), 20)
    with pytest.raises(ConfigCompositionException) as err:  # recurrent models have no such option at all
        make_config("architecture=lstm", "architecture.gated=true")
    assert "gated" in str(err.value.__cause__)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="architecture.name='transformer'.*known: encoder_decoder, encoder_only"):
        build_model(TransformerConfig(name="transformer"), 20)


def test_default_encoder_decoder_keeps_its_parameters():
    """The options add no parameter to the default model, and checkpoints of int2int 0.1 (older names) still load."""
    model = build_model(make_config(*TINY).architecture, 20)
    names = set(model.state_dict())
    assert {"enc_emb.tok.weight", "enc_emb.pos.weight", "dec_emb.tok.weight", "dec_emb.pos.weight",
            "encoder.norm.weight", "encoder.layers.0.attn.qkv.weight", "encoder.layers.0.ffn.0.weight",
            "decoder.layers.0.self_attn.qkv.weight", "decoder.layers.0.cross_attn.kv.weight", "proj.weight"} <= names
    assert not any("loop" in n or "emb.norm" in n or "qk_norm" in n for n in names)
    old = {"enc_tok.weight": "enc_emb.tok.weight", "enc_pos.weight": "enc_emb.pos.weight",
           "dec_tok.weight": "dec_emb.tok.weight", "dec_pos.weight": "dec_emb.pos.weight",
           "enc_norm.weight": "encoder.norm.weight", "enc_norm.bias": "encoder.norm.bias",
           "dec_norm.weight": "decoder.norm.weight", "dec_norm.bias": "decoder.norm.bias"}
    new_to_old = {v: k for k, v in old.items()}
    state = {}
    for k, v in model.state_dict().items():
        k = new_to_old.get(k, k.replace("encoder.layers.", "enc_layers.").replace("decoder.layers.", "dec_layers."))
        state[k] = torch.randn_like(v)
    fresh = build_model(make_config(*TINY).architecture, 20)
    fresh.load_state_dict(state)  # strict: every old name found its parameter
    assert torch.equal(fresh.encoder.layers[0].attn.qkv.weight, state["enc_layers.0.attn.qkv.weight"])


@pytest.mark.parametrize("t, u, causal, masked", [(9, 9, False, True), (4, 9, False, True), (4, 4, True, False),
                                                   (3, 7, True, False), (1, 5, False, True), (32, 32, True, True)])
def test_plain_attention_equals_the_fused_kernel_with_gradients(t, u, causal, masked, monkeypatch):
    """Attention over at most PLAIN_MAX_KEYS keys takes the plain form on the CPU, in training too: its outputs
    and gradients must be the fused kernel's, with key masks, causal masks, both, and cached keys (t queries after
    u - t earlier positions)."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(6, 2, n, 32, requires_grad=True) for n in (t, u, u))
    lengths = torch.tensor([u, 1, 3, u, 2, 4])
    mask = (torch.arange(u)[None, :] < lengths[:, None])[:, None, None, :] if masked else None
    grad = torch.randn(6, 2, t, 32)
    assert u <= PLAIN_MAX_KEYS
    fused = fused_attention(q, k, v, mask, causal)
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", None)  # the plain form, or a TypeError
    plain = attend(q, k, v, mask, 0.0, causal, None)
    outs = [(y.detach(), *torch.autograd.grad(y, (q, k, v), grad)) for y in (plain, fused)]
    for got, want in zip(*outs):
        torch.testing.assert_close(got, want)


def fused_attention(q, k, v, mask, causal):
    """The reference: torch's SDPA, with the causal mask of queries that come after u - t cached positions."""
    t, u = q.shape[-2], k.shape[-2]
    if causal:
        keep = torch.ones(t, u, dtype=torch.bool).tril(u - t)
        mask = keep if mask is None else mask & keep
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)

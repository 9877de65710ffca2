"""Module 16, acceleration: the fused operations against PyTorch (float64 values and gradients), the
fused layers against the plain ones, and accelerate(model) giving the plain model's losses (within
1e-5 relative) over 20 training steps of Milestone 05's GPT and Milestone 04's CNN."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.generation import generate
from tinytorch.models import GPT
from tinytorch.perf import accelerate, fused_linear, keep_freed_memory
from tinytorch.perf.fused import BLOCK, FusedConv2d, FusedLinear, FusedTransformerBlock, Identity, _activate, \
    fused_self_attention, gelu_
from tinytorch.testing import assert_same_as

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
from acceleration import in_a_fresh_process  # noqa: E402  (a training step in a new interpreter)
from spatial import milestone_cnn  # noqa: E402  (Milestone 04's network, for tinytorch.nn or torch.nn)
from transformer import BATCH, MILESTONE  # noqa: E402  (Milestone 05's model and batch)


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
def test_fused_linear_matches_torch(torch, rng, activation):
    f = {None: lambda t: t, "relu": torch.relu, "gelu": torch.nn.functional.gelu}[activation]
    assert_same_as(torch, lambda x, w, b: fused_linear(x, w, b, activation), rng.standard_normal((2, 3, 5)),
                   rng.standard_normal((4, 5)), rng.standard_normal(4), what=f"fused_linear({activation})",
                   oracle_fn=lambda x, w, b: f(torch.nn.functional.linear(x, w, b)), rtol=1e-6, atol=1e-6)
    assert_same_as(torch, lambda x, w: fused_linear(x, w, None, activation), rng.standard_normal((6, 5)),
                   rng.standard_normal((3, 5)), what=f"fused_linear({activation}) without bias",
                   oracle_fn=lambda x, w: f(torch.nn.functional.linear(x, w)), rtol=1e-6, atol=1e-6)


def test_fused_linear_skips_the_gradient_nobody_reads_and_checks_shapes(rng):
    x = Tensor(rng.standard_normal((3, 4)))
    w = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    fused_linear(x, w, None, "relu").sum().backward()
    assert x.grad is None and w.grad.shape == (2, 4)
    with pytest.raises(ValueError, match=r"last dimension 4.*\(3, 5\)"):
        fused_linear(Tensor(np.zeros((3, 5))), w)
    with pytest.raises(ValueError, match="swish"):
        _activate(fused_linear(x, w), "swish")


def test_gelu_in_blocks_matches_torch_across_block_edges(torch, rng):
    z = (rng.standard_normal(2 * BLOCK + 17) * 5).astype(np.float32)
    z[:3] = [0.0, 50.0, -50.0]
    out = z.copy()
    derivative = gelu_(out)
    reference = torch.tensor(z.astype(np.float64), requires_grad=True)
    torch.nn.functional.gelu(reference).sum().backward()
    assert out.dtype == np.float32 and derivative.dtype == np.float32
    np.testing.assert_allclose(out, torch.nn.functional.gelu(reference).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(derivative, reference.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("mask", ["none", "causal", "float"])
def test_fused_self_attention_matches_torch(torch, rng, mask):
    a = rng.standard_normal((3, 2, 3, 5, 4))
    additive = {"none": None, "causal": np.where(np.tri(5, dtype=bool), 0.0, -np.inf),
                "float": rng.standard_normal((5, 5))}[mask]
    ours, theirs = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
    out = fused_self_attention(ours, additive, 0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(
        theirs[0], theirs[1], theirs[2], attn_mask=None if additive is None else torch.tensor(additive), scale=0.5)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    probe = rng.standard_normal(out.shape)
    out.backward(probe)
    ref.backward(torch.tensor(probe))
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def _twins(build):
    tinytorch.manual_seed(0)
    plain = build()
    fast = accelerate(build())
    fast.load_state_dict(plain.state_dict())
    return plain, fast


@pytest.mark.parametrize("case", ["causal", "float-mask", "padding", "dropout"])
def test_fused_block_equals_the_plain_block(rng, case):
    dropout = 0.2 if case == "dropout" else 0.0
    plain, fast = _twins(lambda: nn.TransformerBlock(16, 4, 32, dropout=dropout))
    assert type(fast) is FusedTransformerBlock and isinstance(fast, nn.TransformerBlock)
    assert list(fast.state_dict()) == list(plain.state_dict())
    x = rng.standard_normal((3, 6, 16)).astype(np.float32)
    kwargs = {"causal": dict(is_causal=True), "dropout": dict(is_causal=True),
              "float-mask": dict(src_mask=rng.standard_normal((6, 6)).astype(np.float32)),
              "padding": dict(src_key_padding_mask=np.arange(6) >= np.array([[6], [4], [2]]))}[case]
    results = []
    for block in (plain, fast):
        tinytorch.manual_seed(1)  # the same dropout draws
        inputs = Tensor(x, requires_grad=True)
        out = block(inputs, **kwargs)
        out.backward(np.cos(np.arange(out.data.size, dtype=np.float32)).reshape(out.shape))
        results.append([out.data, inputs.grad.data] + [p.grad.data for p in block.parameters()])
        block.zero_grad()
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_accelerate_swaps_classes_keeps_parameters_and_moves_activations():
    tinytorch.manual_seed(0)
    model = milestone_cnn(nn)
    params = list(model.parameters())
    keys = list(model.state_dict())
    assert accelerate(model) is model
    assert [type(m).__name__ for m in model] == ["FusedConv2d", "Identity", "MaxPool2d", "FusedConv2d", "Identity",
                                                  "MaxPool2d", "Flatten", "FusedLinear", "Identity", "FusedLinear"]
    assert [m.activation for m in model if isinstance(m, (FusedConv2d, FusedLinear))] == ["relu", "relu", "relu", None]
    assert all(a is b for a, b in zip(model.parameters(), params)) and list(model.state_dict()) == keys
    assert isinstance(model[1], Identity)


def _losses(stepper, model, steps=20):
    step = stepper(model)
    return np.array([step() for _ in range(steps)])


def _gpt_stepper(model):
    rng = np.random.default_rng(0)
    vocab, context = MILESTONE["vocab_size"], MILESTONE["context_length"]
    x, y = rng.integers(0, vocab, (BATCH, context)), rng.integers(0, vocab, BATCH * context)
    optimizer = tinytorch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)

    def step():
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()
    return step


def _cnn_stepper(model):
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 64)
    optimizer, loss_fn = tinytorch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


@pytest.mark.parametrize("name", ["Milestone 05 GPT", "Milestone 04 CNN"])
def test_accelerated_training_gives_the_plain_losses(name):
    build, stepper = {"Milestone 05 GPT": (lambda: GPT(**MILESTONE), _gpt_stepper),
                      "Milestone 04 CNN": (lambda: milestone_cnn(nn), _cnn_stepper)}[name]
    plain, fast = _twins(build)
    ours, reference = _losses(stepper, fast), _losses(stepper, plain)
    assert reference[-1] < reference[0] - 0.1, "the model learns (its fixed batch)"
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=0, err_msg=name)


def test_accelerated_gpt_generates_the_same_tokens(rng):
    plain, fast = _twins(lambda: GPT(vocab_size=13, context_length=8, d_model=16, nhead=2, num_layers=2, dim_feedforward=32))
    prompt = rng.integers(0, 13, (2, 3))
    expected = generate(plain, prompt, 20, temperature=0, use_cache=False).data
    for use_cache in (False, True):
        np.testing.assert_array_equal(generate(fast, prompt, 20, temperature=0, use_cache=use_cache).data, expected)


@pytest.mark.slow
def test_benchmark_prints_its_ratios():
    out = subprocess.run([sys.executable, BENCH / "acceleration.py", "--only", "block", "step", "threads", "--repeat", "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("tinytorch / PyTorch:") == 2 and "1 thread / 2 threads:" in out.stdout, out.stdout
    assert "plain / accelerated, in one process:" in out.stdout, out.stdout
    assert out.stdout.count("plain with the default / this:") == 4, out.stdout
    assert "target: accelerated with keep_freed_memory() at least 1.5x faster than plain" in out.stdout, out.stdout


def test_keep_freed_memory_ends_the_page_faults_of_repeated_steps():
    """Each setting in a fresh interpreter (it holds for the whole process): with glibc's default,
    every training step faults in thousands of fresh pages; after keep_freed_memory(), almost none."""
    faults = {setting: in_a_fresh_process(f"plain, {setting}", steps=3)[1]
              for setting in ("default malloc", "keep_freed_memory")}
    assert faults["default malloc"] > 1000 and faults["keep_freed_memory"] < faults["default malloc"] / 20, faults


def test_keep_freed_memory_refuses_thresholds_mallopt_cannot_take():
    for bad in (-1, 2**31):
        with pytest.raises(ValueError, match="trim_threshold"):
            keep_freed_memory(trim_threshold=bad)

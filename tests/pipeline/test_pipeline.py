"""The Separator: conditioning, span anchors, decoding, and the bundled model's separation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentflow.audio.tiers import make_example, make_examples
from latentflow.metrics import si_snr
from latentflow.pipeline import (
    ALIGN_INSIDE,
    ALIGN_NULL,
    ALIGN_OUTSIDE,
    ANCHOR_TOKENS,
    Separator,
    check_span,
    span_anchors,
)


def test_anchor_vocabulary_is_sam_audios():
    assert ANCHOR_TOKENS == (0, 1, 2)  # <null>, +, -


def test_span_anchors_mark_frames_by_their_centre():
    ids, alignment = span_anchors([(0.2, 0.6), None, (0.0, 4.0)], n_frames=100)
    assert ids.tolist() == [[0, 1, 2]] * 3
    assert ids.dtype == alignment.dtype == torch.long
    assert alignment.shape == (3, 100)
    # Frame j's centre is (j + 0.5) / 25 s: frames 5..14 have centres 0.22..0.58 s.
    inside = (alignment[0] == ALIGN_INSIDE).nonzero().flatten().tolist()
    assert inside == list(range(5, 15))
    assert (alignment[0, :5] == ALIGN_OUTSIDE).all() and (alignment[0, 15:] == ALIGN_OUTSIDE).all()
    assert (alignment[1] == ALIGN_NULL).all()
    assert (alignment[2] == ALIGN_INSIDE).all()
    # The per-frame token the model embeds: gather ids with the alignment.
    tokens = torch.gather(ids, 1, alignment)
    assert tokens[0, 10] == 1 and tokens[0, 0] == 2 and tokens[1, 50] == 0


def test_span_anchors_agree_with_the_bench_span_mask():
    from latentflow.audio.tiers import stack_examples

    examples = [make_example("env", "train", i) for i in range(6)]
    mask = stack_examples(examples).span_mask(100)
    _, alignment = span_anchors([e.span for e in examples], 100)
    assert torch.equal(alignment == ALIGN_INSIDE, mask)


@pytest.mark.parametrize(
    "span, message",
    [((1.0, 0.5), "start < end"), ((-0.1, 1.0), "start < end"), ((4.0, 5.0), "at or after the end"),
     ((0.0, float("nan")), "finite"), (("a", 1), "expected (start, end)")],
)
def test_bad_spans_are_named(span, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_span(span, duration=4.0, where="span 0")


def test_conditioning_for_each_prompt_kind(random_separator, minilm):
    examples = make_examples("env", "test", 3)
    cond = random_separator.conditioning(examples, prompt_kind="text")
    C2 = random_separator.model.cfg.state_channels
    assert cond.mixture.shape == (3, 100, C2)
    # The mixture features are the mixture latent twice.
    latent = random_separator.codec.encode(torch.stack([e.mixture for e in examples])).transpose(1, 2)
    assert torch.equal(cond.mixture, torch.cat([latent, latent], -1))
    expected = minilm.encode([e.prompt for e in examples])
    assert torch.equal(cond.text, expected.features) and torch.equal(cond.text_mask, expected.mask)
    assert (cond.anchor_alignment == ALIGN_NULL).all()

    both = random_separator.conditioning(examples, prompt_kind="text+span")
    assert torch.equal(both.text, cond.text)
    _, alignment = span_anchors([e.span for e in examples], 100)
    assert torch.equal(both.anchor_alignment, alignment)

    span_only = random_separator.conditioning(examples, prompt_kind="span")
    assert span_only.text is None and span_only.text_mask is None
    assert torch.equal(span_only.anchor_alignment, alignment)


def test_conditioning_overrides_prompts_and_checks_counts(random_separator, minilm):
    examples = make_examples("clean", "test", 2)
    alt = [e.alt_prompt for e in examples]
    cond = random_separator.conditioning(examples, prompts=alt)
    assert torch.equal(cond.text, minilm.encode(alt).features)
    mixtures = torch.stack([e.mixture for e in examples])
    with pytest.raises(ValueError, match="needs 2 prompts, got 1"):
        random_separator.conditioning(mixtures=mixtures, prompts=["a man speaking"])
    with pytest.raises(ValueError, match="needs 2 spans, got none"):
        random_separator.conditioning(mixtures=mixtures, prompts=alt, prompt_kind="text+span")
    with pytest.raises(ValueError, match="unknown prompt_kind 'audio'; allowed: text, span, text\\+span"):
        random_separator.conditioning(examples, prompt_kind="audio")
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        random_separator.conditioning(mixtures=mixtures[:1], prompts=["  "])


def test_decode_splits_the_mixture(random_separator):
    examples = make_examples("noisy", "test", 2)
    out = random_separator.separate(examples, steps=2)
    mixtures = torch.stack([e.mixture for e in examples])
    assert out.target.shape == out.residual.shape == mixtures.shape
    assert out.state.shape == (2, 100, random_separator.model.cfg.state_channels)
    torch.testing.assert_close(out.target + out.residual, mixtures, atol=1e-5, rtol=0)
    again_target, again_residual = random_separator.decode(out.state, mixtures)
    assert torch.equal(again_target, out.target) and torch.equal(again_residual, out.residual)


def test_an_examples_output_does_not_depend_on_its_batch(random_separator):
    examples = make_examples("clean", "test", 3)
    together = random_separator.separate(examples, steps=3, seeds=[4, 5, 6])
    alone = random_separator.separate(examples[1:2], steps=3, seeds=[5])
    torch.testing.assert_close(alone.state[0], together.state[1], atol=1e-4, rtol=1e-4)
    other_seed = random_separator.separate(examples[1:2], steps=3, seeds=[9])
    assert not torch.allclose(other_seed.state, alone.state)


def test_separator_refuses_mismatched_parts(minilm):
    from latentflow.model import build_model, preset

    wrong_width = build_model(preset("fixture", text_dim=768), seed=0)
    with pytest.raises(ValueError, match="text_dim=768"):
        Separator(wrong_width, text_encoder=minilm)
    wrong_channels = build_model(preset("fixture", latent_channels=32), seed=0)
    with pytest.raises(ValueError, match="C=32"):
        Separator(wrong_channels, text_encoder=minilm)


# -- the bundled model ------------------------------------------------------------------------


def test_bundled_model_separates_held_out_clean_mixtures(fixture_separator):
    examples = make_examples("clean", "test", 4)
    out = fixture_separator.separate(examples, steps=16, method="euler")
    target = torch.stack([e.target for e in examples])
    mixture = torch.stack([e.mixture for e in examples])
    improvement = si_snr(out.target, target) - si_snr(mixture, target)
    assert (improvement > 0).all(), improvement
    assert np.mean(improvement) > 3.0, improvement


def test_bundled_model_follows_the_prompt(fixture_separator):
    examples = make_examples("clean", "test", 4)
    target = torch.stack([e.target for e in examples])
    other = torch.stack([e.residual for e in examples])
    alt = fixture_separator.separate(examples, prompts=[e.alt_prompt for e in examples])
    assert (si_snr(alt.target, other) > si_snr(alt.target, target)).all()


def test_bundled_model_separates_env_sounds(fixture_separator):
    examples = make_examples("env", "test", 4)
    out = fixture_separator.separate(examples)
    target = torch.stack([e.target for e in examples])
    mixture = torch.stack([e.mixture for e in examples])
    assert np.mean(si_snr(out.target, target) - si_snr(mixture, target)) > 1.0

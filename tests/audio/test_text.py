"""Tests of the text encoders: the packaged MiniLM and T5 from a local (tiny, random) checkpoint."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from latentflow.audio.text import (
    MiniLMTextEncoder,
    T5TextEncoder,
    TextEncoder,
    TextFeatures,
    encoder_from_name,
    minilm_model_dir,
)

PROMPTS = ["a man speaking", "a dog barking loudly in the distance near a busy road"]
T5_CORPUS = [
    "a man speaking", "a woman speaking", "a male voice talking", "a dog barking",
    "rain falling on a roof", "an engine humming", "birds chirping in the morning",
    "a siren wailing", "someone knocking on a door", "an alarm beeping",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMTextEncoder:
    return MiniLMTextEncoder()


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=-1))


# ---------------------------------------------------------------- MiniLM


def test_minilm_shapes_and_padding(minilm):
    out = minilm.encode(PROMPTS)
    counts = [len(minilm.tokenizer(p)["input_ids"]) for p in PROMPTS]  # incl. [CLS] and [SEP]
    assert isinstance(minilm, TextEncoder) and minilm.dim == 384 and out.dim == 384
    assert out.features.shape == (2, max(counts), 384) and out.features.dtype == torch.float32
    assert out.mask.dtype == torch.bool
    assert out.mask.sum(1).tolist() == counts
    assert counts[0] < counts[1]
    assert torch.all(out.features[0, counts[0] :] == 0)
    assert torch.all(out.features[0, : counts[0]].abs().sum(-1) > 0)


def test_minilm_prompt_features_do_not_depend_on_the_batch(minilm):
    alone = minilm.encode(PROMPTS[:1])
    together = minilm.encode(PROMPTS)
    n = alone.features.shape[1]
    assert torch.equal(together.features[0, :n], alone.features[0])


def test_minilm_is_deterministic_with_and_without_cache(minilm):
    first = minilm.encode(["a woman speaking"]).features
    minilm._cache.clear()
    second = minilm.encode(["a woman speaking"]).features
    assert torch.equal(first, second)


def test_cache_is_not_exposed_to_callers(minilm):
    out = minilm.encode(["a siren wailing"])
    kept = out.features.clone()
    out.features.zero_()
    assert torch.equal(minilm.encode(["a siren wailing"]).features, kept)


def test_minilm_different_prompts_give_different_features(minilm):
    out = minilm.encode(["a man speaking", "a woman speaking"])
    assert out.mask[0].sum() == out.mask[1].sum()  # same length, so only content differs
    assert not torch.allclose(out.features[0], out.features[1], atol=1e-3)


def test_minilm_separates_speaker_gender_more_than_paraphrase(minilm):
    pooled = minilm.encode(
        ["a man speaking", "a woman speaking", "a male voice talking", "a dog barking"]
    ).pooled()
    man_woman = cosine(pooled[0], pooled[1])
    man_paraphrase = cosine(pooled[0], pooled[2])
    man_dog = cosine(pooled[0], pooled[3])
    # Measured 0.58 / 0.78 / 0.26 with mean pooling over all real tokens.
    assert man_paraphrase > man_woman + 0.1
    assert man_woman > man_dog + 0.1


def test_minilm_matches_sentence_transformers_reference(minilm):
    # An independent loader of the same package files: sentence-transformers mean-pools the same
    # token states and L2-normalises them.
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_model_dir()), device="cpu", local_files_only=True)
    expected = torch.from_numpy(reference.encode(PROMPTS, normalize_embeddings=True))
    ours = torch.nn.functional.normalize(minilm.encode(PROMPTS).pooled(), dim=-1)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_encoder_from_name_minilm():
    encoder = encoder_from_name("minilm")
    assert isinstance(encoder, MiniLMTextEncoder) and encoder.name == "minilm"


# ---------------------------------------------------------------- prompt errors


@pytest.mark.parametrize(
    "prompts, error, message",
    [
        (["a man speaking", ""], ValueError, r"prompt 1 is empty \(''\)"),
        (["   "], ValueError, r"prompt 0 is empty \('   '\)"),
        ([], ValueError, "prompts is empty"),
        ("a man speaking", TypeError, r"list of strings, got a single str.*wrap it"),
        (["ok", 3], TypeError, "prompt 1 must be a str, got int"),
    ],
)
def test_bad_prompts_are_refused(minilm, prompts, error, message):
    with pytest.raises(error, match=message):
        minilm.encode(prompts)


def test_overlong_prompt_is_refused_not_truncated(minilm):
    with pytest.raises(ValueError, match=r"has \d+ tokens; minilm takes at most 512"):
        minilm.encode(["word " * 600])


# ---------------------------------------------------------------- T5 from a local directory


def save_sentencepiece_t5_tokenizer(directory: Path) -> int:
    """Train a tiny unigram sentencepiece model and save it as a T5 tokenizer; returns its size."""
    import sentencepiece
    from transformers import T5Tokenizer

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(T5_CORPUS * 10), model_writer=buffer, vocab_size=64,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        hard_vocab_limit=False, minloglevel=2,
    )  # fmt: skip
    processor = sentencepiece.SentencePieceProcessor(model_proto=buffer.getvalue())
    vocab = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    tokenizer.save_pretrained(directory)
    return len(tokenizer)


def save_tiny_t5(directory: Path, vocab_size: int, seed: int = 0) -> None:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=vocab_size, d_model=32, d_kv=8, num_heads=4, num_layers=2, d_ff=64,
        decoder_start_token_id=0,
    )  # fmt: skip
    torch.manual_seed(seed)  # the randomly initialised weights are the checkpoint's content
    T5EncoderModel(config).save_pretrained(directory)


@pytest.fixture(scope="module")
def tiny_t5_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_t5")
    vocab_size = save_sentencepiece_t5_tokenizer(directory)
    save_tiny_t5(directory, vocab_size)
    return directory


def test_t5_from_local_directory(tiny_t5_dir):
    encoder = encoder_from_name(str(tiny_t5_dir))
    assert isinstance(encoder, T5TextEncoder) and encoder.dim == 32
    prompts = ["a man speaking", "birds chirping in the morning", "a dog"]
    out = encoder.encode(prompts)
    counts = [len(encoder.tokenizer(p)["input_ids"]) for p in prompts]
    assert encoder.tokenizer("a dog")["input_ids"][-1] == 1  # T5 appends </s>
    assert out.features.shape == (3, max(counts), 32)
    assert out.mask.sum(1).tolist() == counts
    assert torch.all(out.features[2, counts[2] :] == 0)
    again = T5TextEncoder(tiny_t5_dir).encode(["a man speaking", "birds chirping in the morning", "a dog"])
    assert torch.equal(out.features, again.features) and torch.equal(out.mask, again.mask)
    pair = encoder.encode(["a man speaking", "a woman speaking"]).pooled()
    assert not torch.allclose(pair[0], pair[1], atol=1e-4)


def test_t5_with_a_separate_tokenizer_directory(tmp_path, minilm):
    # Any local transformers tokenizer works if its ids fit the model's vocabulary.
    token_dir = tmp_path / "tokenizer"
    minilm.tokenizer.save_pretrained(token_dir)
    model_dir = tmp_path / "model"
    save_tiny_t5(model_dir, vocab_size=len(minilm.tokenizer))
    encoder = T5TextEncoder(model_dir, tokenizer_path=token_dir)
    out = encoder.encode(["a man speaking"])
    assert out.features.shape == (1, 5, 32)  # [CLS] a man speaking [SEP]


def test_lru_cache_evicts_the_least_recently_used(tiny_t5_dir):
    encoder = T5TextEncoder(tiny_t5_dir, cache_size=2)
    encoder.encode(["a dog", "a siren wailing"])
    encoder.encode(["a dog"])  # now most recent
    encoder.encode(["an alarm beeping"])
    assert list(encoder._cache) == ["a dog", "an alarm beeping"]
    uncached = T5TextEncoder(tiny_t5_dir, cache_size=0)
    uncached.encode(["a dog"])
    assert not uncached._cache


def test_t5_path_errors(tmp_path, tiny_t5_dir):
    with pytest.raises(FileNotFoundError, match=r"T5 model directory '.*nowhere' does not exist"):
        T5TextEncoder(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no config.json: expected a transformers T5 model directory"):
        T5TextEncoder(empty)
    bert = tmp_path / "bert"
    from transformers import BertConfig

    config = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8)
    config.save_pretrained(bert)
    with pytest.raises(ValueError, match=r"config.json: model_type is 'bert', but T5TextEncoder needs 't5'"):
        T5TextEncoder(bert)
    no_tokenizer = tmp_path / "no_tokenizer"
    save_tiny_t5(no_tokenizer, vocab_size=64)
    with pytest.raises(FileNotFoundError, match="has no tokenizer files"):
        T5TextEncoder(no_tokenizer)
    with pytest.raises(ValueError, match=r"has 30522 ids but the model's vocab_size is 64"):
        T5TextEncoder(no_tokenizer, tokenizer_path=minilm_model_dir())


def test_encoder_from_name_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown text encoder 'clip': use one of \['minilm'\] or the path"):
        encoder_from_name("clip")
    with pytest.raises(ValueError, match="unknown text encoder"):
        encoder_from_name(tmp_path / "missing")


def test_text_features_validates_its_fields():
    with pytest.raises(ValueError, match=r"mask must be a bool \(B, L\) = \(2, 3\)"):
        TextFeatures(torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"features must be \(B, L, D\)"):
        TextFeatures(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool))
    features = TextFeatures(torch.ones(1, 3, 2), torch.tensor([[True, True, False]]))
    assert features.pooled().tolist() == [[1.0, 1.0]]

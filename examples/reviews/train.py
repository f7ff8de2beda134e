"""Train a tiny review classifier and its tokenizer, here, from generated reviews (no download).

    python examples/reviews/train.py [--fast] [-o DIR]

Writes into DIR: reviews.keras (a Keras model on token ids: an Embedding, a
mean over the tokens, a softmax over negative/positive), tokenizer.json (a
WordPiece tokenizer trained here by the ``tokenizers`` library, lower-casing,
accents stripped, [CLS] text [SEP], cut at 32 tokens), labels.txt and
sentences.txt (held-out reviews, one per line, for ``webml verify --input``).
The reviews are made from templates with a fixed seed, so every run trains on
the same ones.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LABELS = ("negative", "positive")
MAX_LENGTH = 32
SUBJECTS = ["The film", "This café", "The hotel room", "Our guide", "The food", "The app",
            "The service", "This book", "The concert", "The delivery"]
GOOD = ["wonderful", "excellent", "delightful", "friendly", "superb", "charming", "fast",
        "moving", "clean", "great"]
BAD = ["terrible", "awful", "boring", "rude", "cold", "slow", "dirty", "disappointing",
       "broken", "noisy"]
ENDINGS = ["", " and I would come back", ", truly", " from start to finish",
           " — I told all my friends", ", really", " despite the price", ", as expected"]


def reviews(count: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``count`` generated reviews and their labels (0 negative, 1 positive)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], rng.integers(0, 2, size=count)
    for label in labels:
        words = GOOD if label else BAD
        texts.append(f"{rng.choice(SUBJECTS)} was {rng.choice(words)}"
                     f"{rng.choice(ENDINGS)}.")
    return texts, labels


def train_tokenizer(texts: list[str], path: Path) -> object:
    """A BERT-style WordPiece tokenizer trained on ``texts``, saved to ``path``."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")),
                                                 ("[SEP]", tokenizer.token_to_id("[SEP]"))])
    tokenizer.enable_truncation(MAX_LENGTH)
    tokenizer.save(str(path))
    # Padded to MAX_LENGTH with [PAD] (id 0) for training, as the page will feed it.
    tokenizer.enable_padding(length=MAX_LENGTH, pad_id=0, pad_token="[PAD]")
    return tokenizer


def train(out_dir: Path, *, epochs: int = 30, seed: int = 0) -> float:
    """Train and write the model, tokenizer, labels and held-out sentences; return accuracy."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts, labels = reviews(600, seed)
    held_out, held_labels = reviews(40, seed + 1)
    tokenizer = train_tokenizer(texts, out_dir / "tokenizer.json")
    ids = np.array([e.ids for e in tokenizer.encode_batch(texts)], dtype=np.int32)
    test = np.array([e.ids for e in tokenizer.encode_batch(held_out)], dtype=np.int32)
    inputs = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    embedded = keras.layers.Embedding(tokenizer.get_vocab_size(), 16, name="embedding")(inputs)
    pooled = keras.layers.GlobalAveragePooling1D(name="mean")(embedded)
    probs = keras.layers.Dense(len(LABELS), activation="softmax", name="sentiment")(pooled)
    model = keras.Model(inputs, probs, name="reviews")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(ids, labels, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(test, held_labels, verbose=0)[1])
    model.save(out_dir / "reviews.keras")
    (out_dir / "labels.txt").write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    (out_dir / "sentences.txt").write_text("\n".join(held_out[:12]) + "\n", encoding="utf-8")
    return accuracy


def main(argv: list[str] | None = None) -> None:
    """Command line: train and write everything (``--fast``: fewer epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few epochs, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args(argv)
    accuracy = train(args.output, epochs=8 if args.fast else 30)
    print(f"trained the review classifier: held-out accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'reviews.keras'}, tokenizer.json, labels.txt and sentences.txt")


if __name__ == "__main__":
    main()

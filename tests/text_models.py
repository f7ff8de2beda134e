"""Tiny text models for the text-task tests, made here: no download.

Tokenizers are trained by the ``tokenizers`` library on a few sentences
(WordPiece as BERT has it, byte-level BPE as GPT-2/RoBERTa have it); the
classifier is an ONNX graph built with onnx.helper: an embedding Gather,
a mean over the attention mask, a Gemm and a Softmax.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SENTENCES = [
    "The contract ends on the first of June.",
    "Patient reports mild headache and nausea since Tuesday.",
    "Please send the invoice to the accounting department.",
    "Café au lait, naïve façade, résumé: accents are stripped or kept.",
    "東京 and 北京 are cities; مرحبا means hello.",
    "Emoji 🙂 and symbols ™ ① ﬁ survive normalisation.",
    "I loved this film, it was wonderful and moving.",
    "Terrible service, the food was cold and late.",
]
LABELS = ("negative", "positive", "neutral")


def wordpiece(path: Path, max_length: int = 16) -> Path:
    """A BERT-style WordPiece tokenizer.json: lower-cased, accents stripped, [CLS] x [SEP]."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.enable_truncation(max_length)
    tok.save(str(path))
    return path


def byte_level_bpe(path: Path, max_length: int = 16) -> Path:
    """A GPT-2-style byte-level BPE tokenizer.json, no special tokens around the text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.enable_truncation(max_length)
    tok.save(str(path))
    return path


def classifier(path: Path, vocab: int, classes: int = len(LABELS), width: int = 8,
               seed: int = 0) -> Path:
    """An ONNX text classifier: input_ids, attention_mask int64 [batch, seq] -> softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"embedding": rng.normal(size=(vocab, width)).astype(np.float32),
               "w": rng.normal(size=(width, classes)).astype(np.float32),
               "b": rng.normal(size=(classes,)).astype(np.float32),
               "axis1": np.array([1], dtype=np.int64), "axis2": np.array([2], dtype=np.int64)}
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["summed", "count"], ["mean"]),
        helper.make_node("Gemm", ["mean", "w", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    ids = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes, "text_classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ids),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ids)],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def unigram(path: Path, max_length: int = 16) -> Path:
    """A SentencePiece-style Unigram tokenizer.json: NFKC, Metaspace (▁), </s> at the end."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(SENTENCES, trainers.UnigramTrainer(
        vocab_size=150, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    tok.enable_truncation(max_length)
    tok.save(str(path))
    return path


def encoder(path: Path, vocab: int, width: int = 8, seed: int = 1) -> Path:
    """An ONNX text encoder: input_ids, attention_mask [batch, seq] -> per-token vectors
    last_hidden_state [batch, seq, width] (an embedding, a MatMul, a Tanh), to be pooled."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"embedding": rng.normal(size=(vocab, width)).astype(np.float32),
               "w": rng.normal(size=(width, width)).astype(np.float32),
               "axis2": np.array([2], dtype=np.int64)}
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("MatMul", ["embedded", "w"], ["mixed"]),
        helper.make_node("Tanh", ["mixed"], ["hidden"]),
        # The mask zeroes padding's vectors, as an encoder's attention does to what they feed.
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["hidden", "mask3"], ["last_hidden_state"]),
    ]
    ids = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes, "text_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ids),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ids)],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch", "sequence", width])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def keras_classifier(path: Path, vocab: int, classes: int = len(LABELS), seed: int = 0) -> Path:
    """A Keras text classifier on token ids (int32 [batch, tokens]): Embedding, mean, Dense."""
    import keras

    keras.utils.set_random_seed(seed)
    ids = keras.Input(shape=(None,), dtype="int32", name="input_ids")
    embedded = keras.layers.Embedding(vocab, 8)(ids)
    mean = keras.layers.GlobalAveragePooling1D()(embedded)
    probs = keras.layers.Dense(classes, activation="softmax")(mean)
    keras.Model(ids, probs, name="keras_text").save(path)
    return path


TAGS = ("O", "B-DATE", "I-DATE", "B-SYMPTOM", "I-SYMPTOM")


def token_classifier(path: Path, tokenizer_json: Path,
                     words: dict[str, str] | None = None) -> Path:
    """An ONNX token classifier: input_ids, attention_mask [batch, seq] -> logits [batch, seq,
    tags] (a Gather of per-token rows, no softmax). A word of ``words`` gets its type: its
    first piece B-, the rest I- (so entities span word pieces); every other token O."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer

    words = words or {"Tuesdays": "DATE", "June": "DATE", "headache": "SYMPTOM",
                      "nausea": "SYMPTOM"}
    tok = Tokenizer.from_file(str(tokenizer_json))
    table = np.zeros((tok.get_vocab_size(), len(TAGS)), np.float32)
    table[:, 0] = 4.0
    for word, kind in words.items():
        pieces = tok.encode(word, add_special_tokens=False).ids
        for n, piece in enumerate(pieces):
            table[piece] = 0.0
            table[piece, TAGS.index(("B-" if n == 0 else "I-") + kind)] = 4.0 - n * 0.5
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["gathered"]),
             helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
             helper.make_node("Mul", ["gathered", "mask3"], ["logits"])]
    ids = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes, "token_classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ids),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ids)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["batch", "sequence", len(TAGS)])],
        [numpy_helper.from_array(table, "table"),
         numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def classic_bpe(path: Path, max_length: int = 16) -> Path:
    """A character-level BPE tokenizer.json (CLIP/GPT-1 style): NFC and lower case, the
    Whitespace pre-tokenizer (\\w+|[^\\w\\s]+, Unicode), an end-of-word suffix, <s> x </s>."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<unk>", "<s>", "</s>"],
        end_of_word_suffix="</w>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")),
                                              ("</s>", tok.token_to_id("</s>"))])
    tok.enable_truncation(max_length)
    tok.save(str(path))
    return path


def wordpiece_punctuation(path: Path, max_length: int = 16) -> Path:
    """WordPiece after NFKC, lower case and accents stripped, split on whitespace, then each
    punctuation character alone, then each digit alone."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                           normalizers.NFD(), normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(),
        pre_tokenizers.Digits(individual_digits=True)])
    tok.train_from_iterator(SENTENCES, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.enable_truncation(max_length)
    tok.save(str(path))
    return path

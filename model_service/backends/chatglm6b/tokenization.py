"""ChatGLM-6B's tokenizer: sentencepiece over `ice_text.model`, the way the published checkpoint tokenizes.

What it does, as the checkpoint's own tokenizer does it under transformers 4.33 (the version its
remote code was written for):

- Before sentencepiece, "\\n" becomes `<n>`, a tab `<|tab|>`, and each run of 2-80 spaces (longest
  first) `<|blank_N|>`; decoding turns them back.
- A token id is the sentencepiece id plus `num_image_tokens` (tokenizer_config.json: 0 for the
  current checkpoint, 20,000 for the first revision, whose ids below that were image tokens).
- A prompt ends with `[gMASK]` `<sop>`; the model answers after `<sop>` and ends with `<eop>`.
- The special tokens <sop> <eop> <unk> <pad> [MASK] are found whole in text (whitespace around them
  is dropped), everything between is encoded separately; [gMASK] is not (4.33 did not know it).
- Decoding drops <pad>, decodes the pieces together, and applies 4.33's default
  `clean_up_tokenization_spaces` (" ?" -> "?", " n't" -> "n't", ...): later transformers changed
  both defaults, so both are done here rather than inherited.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from functools import cached_property
from typing import Any, ClassVar

import sentencepiece as spm
from transformers import PreTrainedTokenizer
from transformers.utils import PaddingStrategy

from model_service.backends.chatglm6b.text import CHAT_FORMAT, clean_up_spaces, decode_whitespace, encode_whitespace

log = logging.getLogger(__name__)

VOCAB_FILE = "ice_text.model"
DEFAULT_NUM_IMAGE_TOKENS = 20000  # the original's default, for a tokenizer_config.json without the key


class ChatGLMTokenizer(PreTrainedTokenizer):
    """ChatGLM-6B's tokenizer over `ice_text.model`; reads the published tokenizer_config.json as it is."""

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": VOCAB_FILE}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask", "position_ids"]
    padding_side = "left"
    chat_format = CHAT_FORMAT

    def __init__(
        self,
        vocab_file: str | None = None,
        do_lower_case: bool = False,
        remove_space: bool = False,
        bos_token: str = "<sop>",
        eos_token: str = "<eop>",
        end_token: str = "</s>",
        mask_token: str = "[MASK]",
        gmask_token: str = "[gMASK]",
        padding_side: str = "left",
        pad_token: str = "<pad>",
        unk_token: str = "<unk>",
        num_image_tokens: int = DEFAULT_NUM_IMAGE_TOKENS,
        clean_up_tokenization_spaces: bool = True,
        **kwargs: Any,
    ) -> None:
        # transformers 5 hands the non-standard *_token keys of tokenizer_config.json over in one dict.
        extra = dict(kwargs.pop("model_specific_special_tokens", None) or {})
        gmask_token = str(extra.pop("gmask_token", gmask_token))
        end_token = str(extra.pop("end_token", end_token))
        if extra:
            kwargs["model_specific_special_tokens"] = extra
        if vocab_file is None or not os.path.isfile(vocab_file):
            raise ValueError(
                f"ChatGLM-6B's tokenizer needs its sentencepiece model {VOCAB_FILE} "
                f"(not found: {vocab_file or 'no file given'}); copy it from the checkpoint folder"
            )
        if not isinstance(num_image_tokens, int) or isinstance(num_image_tokens, bool) or num_image_tokens < 0:
            raise ValueError(f"tokenizer_config.json: num_image_tokens must be a count >= 0, not {num_image_tokens!r}")
        self.vocab_file = vocab_file
        self.num_image_tokens = num_image_tokens
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.sp = self._load_sentencepiece(vocab_file)
        self.gmask_token = gmask_token
        self.end_token = end_token
        # A saved copy hands them back as AddedToken objects: the pieces are what matter.
        bos_token, eos_token, mask_token, pad_token, unk_token = map(
            str, (bos_token, eos_token, mask_token, pad_token, unk_token)
        )
        self._check_pieces(vocab_file, [bos_token, eos_token, mask_token, gmask_token, pad_token, unk_token])
        super().__init__(
            do_lower_case=do_lower_case,
            remove_space=remove_space,
            padding_side=padding_side,
            bos_token=bos_token,
            eos_token=eos_token,
            mask_token=mask_token,
            pad_token=pad_token,
            unk_token=unk_token,
            num_image_tokens=num_image_tokens,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
            **kwargs,
        )
        # Saved with the other settings so that from_pretrained of a saved copy reads them back.
        self.init_kwargs.update(gmask_token=gmask_token, end_token=end_token)

    @staticmethod
    def _load_sentencepiece(vocab_file: str) -> spm.SentencePieceProcessor:
        processor = spm.SentencePieceProcessor()
        try:
            processor.Load(vocab_file)
        except (OSError, RuntimeError) as error:
            raise ValueError(f"{vocab_file} is not a sentencepiece model: {error}") from error
        return processor

    def _check_pieces(self, vocab_file: str, tokens: list[str]) -> None:
        missing = [token for token in tokens if self.sp.IdToPiece(self.sp.PieceToId(token)) != token]
        if missing:
            raise ValueError(
                f"{vocab_file} has no piece for {', '.join(missing)} (named in tokenizer_config.json); "
                "it is not ChatGLM-6B's ice_text.model"
            )

    # -- vocabulary -----------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.num_image_tokens + self.sp.GetPieceSize()

    @cached_property
    def _vocab(self) -> dict[str, int]:
        return {self._convert_id_to_token(index): index for index in range(self.vocab_size)}

    def get_vocab(self) -> dict[str, int]:
        vocab = dict(self._vocab)
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _convert_token_to_id(self, token: str) -> int:
        if token.startswith("<image_") and token.endswith(">") and token[7:-1].isdigit():
            return int(token[7:-1])
        return int(self.sp.PieceToId(token)) + self.num_image_tokens

    def _convert_id_to_token(self, index: int) -> str:
        if index < self.num_image_tokens:
            return f"<image_{index}>"
        piece_id = index - self.num_image_tokens
        if piece_id >= self.sp.GetPieceSize():
            # Past the tokenizer (config.json's vocab_size is padded): the original raised here.
            return ""
        return str(self.sp.IdToPiece(piece_id))

    def piece_id(self, token: str) -> int:
        """A special token's id, read from ice_text.model: its sentencepiece id plus num_image_tokens."""
        return self._convert_token_to_id(token)

    @property
    def gmask_token_id(self) -> int:
        return self.piece_id(self.gmask_token)

    @property
    def end_token_id(self) -> int:
        return self.piece_id(self.end_token)

    # -- encoding -------------------------------------------------------------------------------

    def preprocess_text(self, text: str) -> str:
        if self.remove_space:
            text = " ".join(text.strip().split())
        if self.do_lower_case:
            text = text.lower()
        return text

    def _no_split_tokens(self) -> list[str]:
        """The tokens transformers 4.33 found whole in text: the standard special tokens, not [gMASK]."""
        tokens = {str(token) for token in self.all_special_tokens}
        return sorted(tokens, key=len, reverse=True)

    def tokenize(self, text: str, **kwargs: Any) -> list[str]:  # type: ignore[override]
        tokens = self._no_split_tokens()
        parts = re.split("(" + "|".join(map(re.escape, tokens)) + ")", text) if tokens else [text]
        special = set(tokens)
        # Whitespace next to a special token is dropped, as 4.33 did for plain-string special tokens.
        for index, part in enumerate(parts):
            if part in special and index % 2 == 1:
                if index > 0:
                    parts[index - 1] = parts[index - 1].rstrip()
                if index + 1 < len(parts):
                    parts[index + 1] = parts[index + 1].lstrip()
        pieces: list[str] = []
        for index, part in enumerate(parts):
            if not part:
                continue
            pieces.extend([part] if index % 2 == 1 else self._tokenize(part))
        return pieces

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        text = encode_whitespace(self.preprocess_text(text))
        return [str(piece) for piece in self.sp.EncodeAsPieces(text)]

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """`ids [gMASK] <sop>`; a pair continues with `ids_1 <eop>`."""
        ids = [*token_ids_0, self.gmask_token_id, self.piece_id(str(self.bos_token))]
        if token_ids_1 is not None:
            ids += [*token_ids_1, self.piece_id(str(self.eos_token))]
        return ids

    def get_special_tokens_mask(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None, already_has_special_tokens: bool = False
    ) -> list[int]:
        if already_has_special_tokens:
            special = {*self.all_special_ids, self.gmask_token_id}
            return [1 if token in special else 0 for token in token_ids_0]
        mask = [0] * len(token_ids_0) + [1, 1]
        if token_ids_1 is not None:
            mask += [0] * len(token_ids_1) + [1]
        return mask

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))

    def _pad(  # type: ignore[override]
        self,
        encoded_inputs: dict[str, Any],
        max_length: int | None = None,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Unpadded input comes back as it is: input_ids only, as the original returned it.

        ChatGLM-6B's model makes its own attention mask and 2D positions from the ids. Padded
        batches are padded on the left with a 1-D mask (the original built its 3-D mask here).
        """
        unpadded = max_length is None or padding_strategy == PaddingStrategy.DO_NOT_PAD
        if unpadded and "attention_mask" not in encoded_inputs:
            return encoded_inputs
        return dict(super()._pad(encoded_inputs, max_length, padding_strategy, **kwargs))

    # -- decoding -------------------------------------------------------------------------------

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return decode_whitespace(str(self.sp.DecodePieces(tokens)))

    def _decode(  # type: ignore[override]
        self,
        token_ids: int | list[int],
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> str:
        ids = [token_ids] if isinstance(token_ids, int) else [int(token) for token in token_ids]
        pad = self.pad_token_id
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        tokens = [self._convert_id_to_token(token) for token in ids if token != pad and token not in skip]
        text = self.convert_tokens_to_string([token for token in tokens if token])
        clean = clean_up_tokenization_spaces
        if clean is None:
            clean = self.clean_up_tokenization_spaces
        return clean_up_spaces(text) if clean else text

    # -- saving ---------------------------------------------------------------------------------

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str, ...]:
        name = (f"{filename_prefix}-" if filename_prefix else "") + VOCAB_FILE
        target = os.path.join(save_directory, name) if os.path.isdir(save_directory) else save_directory
        if os.path.abspath(target) != os.path.abspath(self.vocab_file):
            shutil.copyfile(self.vocab_file, target)
        return (target,)

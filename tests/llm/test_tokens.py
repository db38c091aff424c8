"""The token estimate used when no tokenizer of a remote model is available."""

from llm.tokens import approx_message_tokens, approx_text_tokens, approx_truncate


def test_cjk_characters_count_one_token_each():
    assert approx_text_tokens("汉服的历史") == 5


def test_other_text_counts_one_token_per_four_characters():
    assert approx_text_tokens("abcdefgh") == 2
    assert approx_text_tokens("abcdefghi") == 3


def test_mixed_text_adds_both():
    assert approx_text_tokens("汉服 hanfu") == 2 + 2  # "汉服" + " hanfu" (6 chars)


def test_messages_add_framing():
    messages = [{"role": "user", "content": "abcd"}]
    assert approx_message_tokens(messages) == 1 + 4 + 3


def test_truncate_keeps_the_longest_prefix_within_the_estimate():
    text = "汉服的历史 is long"
    cut = approx_truncate(text, 6)
    assert text.startswith(cut)
    assert approx_text_tokens(cut) <= 6
    assert approx_text_tokens(text[: len(cut) + 1]) > 6

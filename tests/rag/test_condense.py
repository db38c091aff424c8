"""Question condensing: the prompt, output cleaning and query strategies (pure parts)."""

from llm.types import Completion, GenerationParams
from rag.condense import (
    CONDENSE_SYSTEM_EN,
    CONDENSE_SYSTEM_ZH,
    build_condense_messages,
    clean_condensed,
    condense_question,
    retrieval_queries,
)

TURNS = [
    {"role": "user", "content": "How do I bake sourdough bread?"},
    {"role": "assistant", "content": "Mix flour, water and starter, then proof overnight."},
]


class RecordingLLM:
    """Records calls; used only to check that no call is made without history."""

    def __init__(self, reply: str = "") -> None:
        self.calls: list = []
        self.reply = reply

    def complete(self, messages, params: GenerationParams) -> Completion:
        self.calls.append((messages, params))
        return Completion(self.reply)


def test_english_condense_prompt_is_exact():
    messages = build_condense_messages(TURNS, "What about its second step?")
    assert messages == [
        {"role": "system", "content": CONDENSE_SYSTEM_EN},
        {
            "role": "user",
            "content": "Conversation:\nUser: How do I bake sourdough bread?\n"
            "Assistant: Mix flour, water and starter, then proof overnight.\n\n"
            "Follow-up question: What about its second step?\nStandalone question:",
        },
    ]


def test_chinese_question_gets_chinese_condense_prompt():
    turns = [{"role": "user", "content": "汉服有哪些种类？"}, {"role": "assistant", "content": "有襦裙、深衣等。"}]
    messages = build_condense_messages(turns, "它的历史呢？")
    assert messages[0]["content"] == CONDENSE_SYSTEM_ZH
    assert messages[1]["content"] == "对话：\n用户: 汉服有哪些种类？\n助手: 有襦裙、深衣等。\n\n后续问题：它的历史呢？\n独立问题："


def test_only_the_newest_turns_go_into_the_condense_prompt():
    turns = []
    for i in range(20):
        turns += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    content = build_condense_messages(turns, "and then?")[1]["content"]
    assert "question 19" in content and "question 16" in content and "question 15" not in content


def test_clean_condensed_strips_labels_and_quotes():
    assert clean_condensed('Standalone question: "What is the second step of baking sourdough?"\nextra', "q") == (
        "What is the second step of baking sourdough?"
    )
    assert clean_condensed("独立问题：汉服的历史是什么？", "它的历史呢？") == "汉服的历史是什么？"
    assert clean_condensed("User: Standalone question: How long to proof dough?", "q") == "How long to proof dough?"
    assert clean_condensed("用户: 汉服的历史是什么？", "它的历史呢？") == "汉服的历史是什么？"


def test_clean_condensed_falls_back_to_question_on_empty_or_runaway_output():
    assert clean_condensed("  \n ", "What about it?") == "What about it?"
    assert clean_condensed("x" * 1000, "What about it?") == "What about it?"


def test_no_history_means_no_model_call():
    llm = RecordingLLM("should not be used")
    assert condense_question(llm, [], "What is BM25?") == "What is BM25?"
    assert llm.calls == []


def test_history_makes_one_greedy_bounded_call():
    llm = RecordingLLM("What is the second step of baking sourdough bread?")
    out = condense_question(llm, TURNS, "What about its second step?")
    assert out == "What is the second step of baking sourdough bread?"
    (messages, params), = llm.calls
    assert params.greedy and params.max_new_tokens <= 64


def test_retrieval_query_strategies():
    q, s = "What about its second step?", "second step of sourdough"
    assert retrieval_queries("standalone", q, s, TURNS) == [s]
    assert retrieval_queries("raw", q, s, TURNS) == [q]
    assert retrieval_queries("standalone+raw", q, s, TURNS) == [s, q]
    assert retrieval_queries("standalone+raw+prev", q, s, TURNS) == [
        s, q, "How do I bake sourdough bread? What about its second step?"
    ]
    assert retrieval_queries("standalone+raw", q, q, TURNS) == [q]

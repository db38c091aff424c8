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


# --- the search plan (standalone question + phrasings, one call) ---------------------------
from rag.condense import (  # noqa: E402
    QUERY_SYSTEM_EN,
    QUERY_SYSTEM_ZH,
    SearchPlan,
    build_query_messages,
    parse_search_plan,
    plan_search,
)


def test_search_plan_prompt_is_exact_in_both_languages():
    assert build_query_messages(TURNS, "How long does it take?") == [
        {"role": "system", "content": QUERY_SYSTEM_EN},
        {"role": "user", "content": "Conversation:\nUser: How do I bake sourdough bread?\n"
                                    "Assistant: Mix flour, water and starter, then proof overnight.\n"
                                    "Last question: How long does it take?"},
    ]
    assert build_query_messages([], "它有多高？") == [
        {"role": "system", "content": QUERY_SYSTEM_ZH},
        {"role": "user", "content": "对话：\n（无）\n用户最后的问题：它有多高？"},
    ]
    assert "Search: two or three short search phrases separated by ';'" in QUERY_SYSTEM_EN


def test_search_plan_output_is_parsed_into_question_and_phrasings():
    output = "Question: How long does sourdough take to proof?\nSearch: proofing time; overnight rise; proof"
    assert parse_search_plan(output, "How long does it take?", has_history=True) == SearchPlan(
        "How long does sourdough take to proof?", ("proofing time", "overnight rise", "proof"))
    assert parse_search_plan("问题：埃菲尔铁塔有多高？\n检索：铁塔高度；铁塔尺寸；高度；多余", "它有多高？", True) == SearchPlan(
        "埃菲尔铁塔有多高？", ("铁塔高度", "铁塔尺寸", "高度"))


def test_a_first_question_stands_as_asked_whatever_the_model_rewrites():
    output = "Question: What are the criteria for selecting a sample?\nSearch: 样本筛选标准; 筛选标准"
    assert parse_search_plan(output, "样本企业的筛选标准有哪些？", has_history=False) == SearchPlan(
        "样本企业的筛选标准有哪些？", ("样本筛选标准", "筛选标准"))


def test_unlabelled_lines_and_repeats_are_handled():
    assert parse_search_plan("Presenter; speaker; 'host'", "Who presents?", False) == SearchPlan(
        "Who presents?", ("Presenter", "speaker", "host"))
    assert parse_search_plan("Search: data; data; Who presents?", "Who presents?", False) == SearchPlan(
        "Who presents?", ("data",))


def test_malformed_output_falls_back_to_the_raw_question():
    assert parse_search_plan("", "How long?", True) == SearchPlan("How long?")
    assert parse_search_plan("blah " * 400, "How long?", True) == SearchPlan("How long?")
    assert parse_search_plan("Search:", "How long?", True) == SearchPlan("How long?")


def test_plan_is_one_greedy_bounded_call_with_the_callers_cache_key():
    llm = RecordingLLM("Question: How long does sourdough proof?\nSearch: proofing time")
    plan = plan_search(llm, TURNS, "How long does it take?", cache_key="alice\x1fsearch-plan")
    assert plan == SearchPlan("How long does sourdough proof?", ("proofing time",))
    [(messages, params)] = llm.calls
    assert params.temperature == 0.0 and params.max_new_tokens <= 64
    assert params.cache_key == "alice\x1fsearch-plan"


def test_a_failing_model_call_falls_back_to_the_question():
    class Broken:
        def complete(self, messages, params):
            raise RuntimeError("model gone")

    assert plan_search(Broken(), TURNS, "How long?") == SearchPlan("How long?")

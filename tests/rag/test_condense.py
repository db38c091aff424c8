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


# --- a question that stands alone is searched as asked (issue 34) ---------------------------
DEFINED = ("What is Acme's FY2022 working capital ratio? Working capital ratio is defined as total current assets "
           "divided by total current liabilities.")


def test_a_standalone_question_inside_a_conversation_makes_no_model_call():
    llm = RecordingLLM("What is the second step of baking sourdough bread?")
    assert condense_question(llm, TURNS, DEFINED) == DEFINED
    assert condense_question(llm, TURNS, "本文的企业数据来自哪个数据库？") == "本文的企业数据来自哪个数据库？"
    assert llm.calls == []


def test_a_follow_up_is_still_rewritten_with_one_call():
    llm = RecordingLLM("How long does sourdough bread take to proof?")
    assert condense_question(llm, TURNS, "And how long does it proof?") == "How long does sourdough bread take to proof?"
    assert len(llm.calls) == 1


def test_a_rewrite_that_copies_the_earlier_question_is_not_searched():
    llm = RecordingLLM("How do I bake sourdough bread?")  # the model answers with the earlier question
    assert condense_question(llm, TURNS, "What makes lobular cancer distinct?") == "What makes lobular cancer distinct?"
    assert len(llm.calls) == 1  # the cheap check could not tell: the model was asked, its answer checked


def test_a_rewrite_that_drops_the_questions_subject_is_not_searched():
    llm = RecordingLLM("What are the steps of baking sourdough bread?")
    question = "Which steps does a flat tyre repair need?"
    assert condense_question(llm, TURNS, question) == question


def test_a_standalone_question_is_planned_without_the_history():
    llm = RecordingLLM("Question: How do I bake sourdough bread?\nSearch: current ratio; balance sheet")
    plan = plan_search(llm, TURNS, DEFINED)
    assert plan == SearchPlan(DEFINED, ("current ratio", "balance sheet"))
    [(messages, _)] = llm.calls
    assert messages[1]["content"] == f"Conversation:\n(none)\nLast question: {DEFINED}"


def test_the_previous_question_is_not_glued_to_a_standalone_one():
    assert retrieval_queries("standalone+raw+prev", DEFINED, DEFINED, TURNS) == [DEFINED]


def test_a_definition_in_the_question_reaches_retrieval_and_the_answer_prompt(tmp_path, embedder):
    from services import build_services
    from settings import Settings
    from rag.types import TurnRequest
    from tests.fakes import FakeChatBackend
    from tests.pdfs import make_pdf

    fake = FakeChatBackend()
    built = build_services(Settings(data_dir=tmp_path / "data"), llm=fake, embedder=embedder)
    try:
        pages = ["Sourdough bread. Feed the starter with flour and water, then fold the dough.",
                 "Acme balance sheet FY2022. Total current assets 500. Total current liabilities 250."]
        built.knowledge_base.add_file(make_pdf(tmp_path / "acme.pdf", pages), "acme.pdf")
        params = GenerationParams(max_new_tokens=16, temperature=0.0)
        first = built.pipeline.run_turn(TurnRequest("u", "How do I bake sourdough bread?", params=params))
        fake.enqueue(["The ratio is 2.0 [2]."])
        second = built.pipeline.run_turn(TurnRequest("u", DEFINED, conversation_id=first.conversation_id,
                                                     params=params))
        condense_calls = [c for c in fake.calls_of("complete")
                          if c.messages[0]["content"] in (CONDENSE_SYSTEM_EN, QUERY_SYSTEM_EN)]
        assert condense_calls == []  # the question stands alone: no condense call
        assert second.standalone_query == DEFINED
        answer_prompt = fake.calls_of("stream")[-1].messages[-1]["content"]
        assert "defined as total current assets divided by total current liabilities" in answer_prompt
    finally:
        built.close()

"""The cheap checks of the condense step (rag/standalone.py): does a question need the
conversation, and does a rewrite still hold the question? Pure functions, exact values."""

import pytest

from rag.standalone import (
    ALONE,
    FOLLOW_UP,
    UNSURE,
    Reading,
    checked_rewrite,
    content_words,
    kept_share,
    read_question,
    referent,
    rewrite_problem,
)

TURNS = [
    {"role": "user", "content": "What drove the spin-off of Kenvue from Johnson & Johnson in 2023?"},
    {"role": "assistant", "content": "J&J separated its consumer health business, Kenvue, to focus on pharma."},
]


@pytest.mark.parametrize("question", [
    "What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts payable "
    "between FY2016 and FY2017) / (FY2017 COGS + change in inventory between FY2016 and FY2017).",
    "Does 3M have a reasonably healthy liquidity profile based on its quick ratio for Q2 of FY2023?",
    "Which region had the Highest EBITDAR Contribution for MGM during FY2022?",
    "How many chapter authors of this report come from Columbia University?",  # "this report": the document
    "Among all 12 references in this report, how many are from its own research center?",
    "How is the BM25 ranking computed?",
    "How does Pfizer's diluted EPS growth from 2021 to 2022 compare with Merck's?",
])
def test_english_questions_that_name_their_subject_stand_alone(question):
    assert read_question(question).kind == ALONE


@pytest.mark.parametrize("question", [
    "本文的企业数据来自哪个数据库？",  # 本文: the document, not the conversation
    "样本企业的筛选标准有哪些？",
    "为什么选择产出导向的BCC模型？",
    "公司及其子公司2022年的营业收入是多少？",  # 其 after its antecedent
    "再融资的规模是多少？",  # 再融资 is one word, not 再 "again"
])
def test_chinese_questions_that_name_their_subject_stand_alone(question):
    assert read_question(question).kind == ALONE


@pytest.mark.parametrize("question, reason", [
    ("What about its price?", "opens with 'what about'"),
    ("And in 2022?", "opens with 'and'"),
    ("How deadly is it?", "'it' before anything it could stand for"),
    ("Once it breaks out, how likely is it to spread?", "'it' before anything it could stand for"),
    ("Really? What about asphalt?", "opens with 'what about'"),
    ("Okay. Now, what about the causes in Asia?", "opens with 'what about'"),
    ("What was their revenue in 2022?", "'their' before anything it could stand for"),
    ("Why is that?", "refers back with 'that'"),
    ("That sounds like organic farming. How are they related?", "refers back with 'That'"),
    ("Is the Roadster related to the other super cars we've talked about?", "refers back with \"we've talked about\""),
    ("How does the use of rhyme in Biblical poetry compare?", "ends without its object ('compare')"),
    ("Does freezing work?", "a fragment of 2 content words"),
    ("I'm also a woman over 50. How many do I need to eat?", "'how many' without its noun"),
    ("There was mention of Black lives earlier. How does the movement relate?", "ends without its object ('earlier')"),
])
def test_english_follow_ups_are_told_apart(question, reason):
    assert read_question(question) == Reading(FOLLOW_UP, reason)


@pytest.mark.parametrize("question", [
    "它的历史呢？",
    "这个作用对低成长性企业也一样吗？",
    "那2021年综合效率有效比率为什么下滑？",
    "2022年呢？",
    "那么净利润呢？",
    "该公司的负债率是多少？",
])
def test_chinese_follow_ups_are_told_apart(question):
    assert read_question(question).kind == FOLLOW_UP


def test_a_short_question_without_a_name_is_left_to_the_model():
    assert read_question("What makes lobular cancer distinct?").kind == UNSURE


def test_content_words_keep_names_and_figures_and_fold_inflections():
    assert [key for _, key in content_words("What are Apple's net sales in FY2022, in $ millions?")] == [
        "appl", "net", "sale", "fy2022", "million"]
    assert {key for _, key in content_words("How likely is it to spread?")} <= {
        key for _, key in content_words("What is the likelihood of it spreading, likely?")}
    assert [w for w, _ in content_words("数字金融的中介作用有哪些？")] == ["数字", "金融", "中介", "作用"]


def test_kept_share_counts_the_questions_own_words():
    question = "What was Pfizer's diluted EPS growth in 2022?"
    assert kept_share(question, "What was the diluted EPS growth of Pfizer in 2022?") == 1.0
    assert kept_share(question, "What drove the spin-off of Kenvue from Johnson & Johnson in 2023?") == 0.0
    assert kept_share("And in 2022?", "What was Kenvue's revenue in 2022?") == 1.0


def test_a_rewrite_that_drops_the_subject_is_rejected():
    question = "What was Pfizer's diluted EPS growth in 2022?"
    assert rewrite_problem(question, "What was the EPS growth in 2022?", []) == "keeps 60% of the question's words"
    assert checked_rewrite(question, "What was the EPS growth in 2022?", TURNS, read_question(question)) == question


def test_a_rewrite_that_becomes_the_earlier_question_is_rejected():
    question = "What was Pfizer's diluted EPS growth in 2022?"
    earlier = TURNS[0]["content"]
    assert rewrite_problem(question, earlier, [earlier]) == "keeps 0% of the question's words"
    assert checked_rewrite(question, earlier, TURNS, read_question(question)) == question


def test_a_rewrite_closer_to_an_earlier_question_than_to_this_one_is_rejected():
    earlier = "Why did Kenvue split from Johnson & Johnson in 2023?"
    question = "Why did Kenvue split its consumer health unit in 2023?"
    rewrite = "Why did Kenvue split from Johnson & Johnson in 2023, its consumer unit?"
    assert rewrite_problem(question, rewrite, [earlier]) == f"closer to the earlier question {earlier!r}"


def test_a_rewrite_that_only_resolves_the_reference_is_kept():
    question = "What about its revenue in 2023?"
    rewrite = "What was Kenvue's revenue in 2023?"
    assert rewrite_problem(question, rewrite, [TURNS[0]["content"]]) is None
    assert checked_rewrite(question, rewrite, TURNS, read_question(question)) == rewrite


def test_a_rejected_rewrite_of_a_follow_up_keeps_the_referent_it_found():
    question = "What are its main consumer brands today?"
    rewrite = "What are Kenvue's main brands?"  # drops "consumer" and "today": keeps 2 of 4 words
    assert referent(question, rewrite, TURNS) == "Kenvue"
    assert checked_rewrite(question, rewrite, TURNS, read_question(question)) == f"{question} Kenvue"


def test_a_rewrite_need_not_keep_the_remarks_before_the_question():
    question = "Wow, that's better than I thought. What are its main brands?"
    rewrite = "What are Kenvue's main brands?"  # drops "better" and "thought", a remark
    assert rewrite_problem(question, rewrite, [TURNS[0]["content"]]) is None
    assert checked_rewrite(question, rewrite, TURNS, read_question(question)) == rewrite
    assert rewrite_problem("That sounds easy to spot. How do they get away with it?",
                           "How do athletes get away with using steroids?", []) is None
    # a sentence that says something is not a remark: "3M" and "2018" must stay, and so must a name
    question = "I am reading the 3M filing for 2018 now. What was the capex?"
    assert rewrite_problem(question, "What was the capital expenditure?", []) is not None
    assert rewrite_problem("Tell me about the Tesla Model S. How fast is it?", "How fast is the Venom?", []) is not None


def test_a_follow_up_may_take_its_referent_from_a_short_earlier_question():
    """CAsT: the resolved rewrite holds every word of "What is breast cancer?" and was rejected
    as "closer to the earlier question"; a follow-up's rewrite may add a few words of its own."""
    earlier = "What is breast cancer?"
    question = "Once it breaks out, how likely is it to spread quickly?"
    rewrite = "Once breast cancer breaks out, how likely is it to spread?"  # keeps 4 of 5 words
    assert rewrite_problem(question, rewrite, [earlier]) is not None  # not a follow-up: closer
    assert rewrite_problem(question, rewrite, [earlier], follows_up=True) is None
    turns = [{"role": "user", "content": earlier}, {"role": "assistant", "content": "A cancer of the breast."}]
    assert checked_rewrite(question, rewrite, turns, read_question(question)) == rewrite
    # the Kenvue merge adds the earlier question's subject and five words more: still rejected
    merged = "Why did Kenvue split from Johnson & Johnson in 2023, its consumer unit, after J&J's talc lawsuits?"
    assert rewrite_problem("Why did it split its consumer health unit in 2023?", merged,
                           ["Why did Kenvue split from Johnson & Johnson in 2023?"], follows_up=True) is not None


def test_the_rewrite_of_a_chinese_follow_up_is_checked_too():
    turns = [{"role": "user", "content": "数字金融通过哪些中介作用促进专精特新企业高质量发展？"},
             {"role": "assistant", "content": ""}]
    question = "这个作用对低成长性企业也一样吗？"
    good = "数字金融的中介作用对低成长性企业也一样吗？"
    assert checked_rewrite(question, good, turns, read_question(question)) == good
    bad = "数字金融通过哪些中介作用促进专精特新企业高质量发展？"  # the earlier question again
    assert rewrite_problem(question, bad, [turns[0]["content"]]) == "keeps 40% of the question's words"
    assert checked_rewrite(question, bad, turns, read_question(question)) == question


def test_a_follow_up_whose_rewrite_became_another_question_gets_no_referent():
    question = "Which individual lead this program?"  # reads as a follow-up ("this program")
    copied = TURNS[0]["content"]
    assert read_question(question).kind == FOLLOW_UP
    assert checked_rewrite(question, copied, TURNS, read_question(question)) == question

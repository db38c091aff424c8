"""Does a question need the conversation, and did the rewrite keep the question?

Inside a running conversation the condense step (rag/condense.py) used to rewrite every
question with the history. A 1.5B model then rewrote self-contained questions too: asked
one after another, unrelated questions lost their subject, dropped the definition they
gave, or came back as an earlier question (issue 34). History should only resolve what a
question leaves open — "it", "that year", "and in 2022?", "它的历史呢？".

Two cheap checks, no model:

* ``read_question`` says whether a question stands alone (search it as asked, no model
  call), clearly refers back (a pronoun before anything it could stand for, an
  "and …?"/"what about …?" opening, a short fragment), or cannot be told (the model
  rewrites, the check below guards).
* ``checked_rewrite`` keeps a rewrite only when it holds most of the question's own
  content words (``KEEP_MIN``) and no more of an earlier question than of this one;
  otherwise the question is searched as asked, with the referent the rewrite found
  appended when the question did refer back.

Rules of language, not of a data set: they were checked against the CAsT 2021 manual
rewrites, the zh follow-ups and first questions of the evaluation sets (bench/topic_switch.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

from llm.types import Message
from rag.language import is_chinese, stem

log = logging.getLogger(__name__)

ALONE, FOLLOW_UP, UNSURE = "alone", "follow-up", "unsure"

# A rewrite must keep this share of the question's content words (BENCHMARKS: the CAsT
# manual rewrites keep all of them; the bad rewrites of the topic-switch run kept < 0.6).
KEEP_MIN = 0.8
# A question stands alone with this many content words and a name, or this many without.
MIN_WORDS_WITH_NAME = 3
MIN_WORDS_WITHOUT_NAME = 6
# At most this many words of a rejected rewrite are appended to a follow-up: a name, not a topic.
MAX_REFERENT_WORDS = 6
# ... and only from a rewrite that kept at least this share of the question's words.
REFERENT_MIN_KEEP = 0.5
# The rewrite of a follow-up may add this many words (its referent: "breast cancer", "lobular
# carcinoma in situ") even when they make it hold all of a short earlier question.
REFERENT_ADDED_WORDS = 3
# A pronoun after this many content words (or after a name) has its antecedent in the question.
ANTECEDENT_WORDS = 3
# A sentence before the question's last one with at most this many content words and no name is
# a remark ("Wow, that's better than I thought.", "Who knew?"): a rewrite need not keep its words.
REMARK_WORDS = 3

# --- English --------------------------------------------------------------------------
FUNCTION_WORDS = frozenset(
    "a an the and or but if of to in on at by for with from as into onto about over under than then so "
    "is are was were be been being am do does did doing done have has had having can could may might will "
    "would shall should must i me my mine we us our ours you your yours "
    "what which who whom whose when where why how whether there here not no nor yes "
    "also too very just only more most less least much many any some all each every both either neither "
    "please tell give show know want like let lets let's get got take takes taking took make makes making made "
    "go goes going went come comes thing things meant "
    "it its itself they them their theirs themselves he him his himself she her hers herself "
    "this that these those such same one ones other another else former latter above mentioned "
    "wow ok okay really cool great thanks hmm oh well".split()
)
PRONOUNS = frozenset("it its itself they them their theirs themselves he him his himself she her hers herself".split())
DEMONSTRATIVES = frozenset("this these those".split())
# "this report" / "this slide" point at a document, not at the conversation.
DOCUMENT_NOUNS = frozenset(
    "document documents report reports paper papers article slide slides deck presentation filing filings "
    "pdf file files manual guide brochure book chapter section page pages table figure study text form "
    "10-k 10-q statement statements survey".split()
)
# "that" is mostly a conjunction or relative pronoun; it refers back only in these places.
_THAT_BEFORE = frozenset("about of for with than like from on in at to is was does did do explain mean".split())
REFERRING = frozenset("former latter aforementioned above-mentioned".split())
INTERJECTIONS = frozenset("now okay ok well oh hmm right alright great cool wow really thanks yes no can could "
                          "would you please".split())
# "we talked about", "you mentioned": the conversation itself
REFERRING_PHRASES = ("we talked about", "we've talked about", "we discussed", "you discussed", "you mentioned",
                     "we mentioned", "you said", "mentioned earlier", "mentioned above", "mentioned before",
                     "the two", "the previous answer", "tell me more")
# a sentence that stops where its object should be: "how does X compare?", "tried elsewhere?"
ELLIPTIC_ENDINGS = (" compare", " differ", " instead", " too", " as well", " elsewhere", " earlier",
                    " previously", " in comparison", " then")
OPENINGS = (
    "and", "but", "also", "so", "or", "plus", "then", "what about", "how about", "what else", "anything else",
    "tell me more", "more about", "same for", "same question", "in that case", "if so", "instead", "why not",
    "how so", "and what", "and how", "compared to that", "what of",
)
_SENTENCE = re.compile(r"(?<=[.?!;])\s+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'’._%-]*")
_QUOTED = re.compile(r"[\"“`「『][^\"”`」』]{2,}[\"”`」』]")

# --- Chinese --------------------------------------------------------------------------
ZH_DOCUMENT_REFS = ("本文", "本报告", "本研究", "本论文", "本书", "本章", "本节", "该文", "此文", "文中", "文章",
                    "这篇论文", "这篇文章", "这份报告", "该论文", "该报告", "该研究", "本篇")
ZH_PRONOUNS = ("它们", "他们", "她们", "它", "他", "她")
# whole jieba tokens; "其" is left out: "公司及其子公司" names its antecedent
ZH_DEMONSTRATIVES = ("这个", "这些", "这种", "这项", "这一", "这", "那个", "那些", "那种", "那", "该", "此",
                     "上述", "前者", "后者")
ZH_NOT_REFERRING = ("这样", "这么", "那么", "那样", "该当")
# a first jieba token that continues the conversation ("再融资" is one token, "再" another)
ZH_OPENINGS = ("那么", "还有", "另外", "同样", "以及", "并且", "而且", "此外", "其中", "其次", "然后", "那", "这", "该",
               "和", "而", "再", "也", "又", "此", "其")
ZH_FUNCTION_WORDS = frozenset(
    "的 了 是 在 和 与 及 也 就 都 而 或 一 个 吗 呢 吧 啊 呀 么 有 对 从 被 把 让 给 向 于 以 为 之 所 "
    "通过 关于 根据 什么 哪些 哪个 哪里 哪 怎么 怎样 如何 为什么 为何 多少 几 是否 是不是 有没有 请问 请 一下 可以 能 会 要 "
    "这 那 该 此 其 它 他 她 它们 他们 她们 这个 这些 那个 那些 这种 那种 这一 那么 还有 另外 同样 "
    "我 我们 你 你们 吗".split()
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.%-]*")


@dataclass(frozen=True)
class Reading:
    """What the cheap check made of a question: ``kind`` is ALONE, FOLLOW_UP or UNSURE,
    ``reason`` says which rule decided (logged, and shown by bench/topic_switch.py)."""

    kind: str
    reason: str

    @property
    def alone(self) -> bool:
        return self.kind == ALONE


# --- content words --------------------------------------------------------------------
def _fold(word: str) -> str:
    """Plural and case folded away: what the function-word list is written in."""
    word = word.lower().replace("’", "'").strip("'.-")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _stem(word: str) -> str:
    """Case and inflection folded away (Snowball), so "treatments" keeps "treatment" and
    "spreading" keeps "spread": a rewrite that resolves "it" often rewords the question's verbs."""
    return stem(_fold(word))


def _is_function(word: str) -> bool:
    key = _fold(word)
    return not key or word.lower().replace("’", "'") in FUNCTION_WORDS or key in FUNCTION_WORDS


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def content_words(text: str) -> list[tuple[str, str]]:
    """(surface, key) of each content word in order: English words less function words,
    Chinese words (jieba) less function words, figures kept ("2022", "3M", "FY2018")."""
    out: list[tuple[str, str]] = []
    for part in re.split(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)", text):
        if not part:
            continue
        if _CJK.match(part):
            out += [(w, w) for w in _jieba().lcut(part) if w.strip() and w not in ZH_FUNCTION_WORDS]
        else:
            for word in _WORD.findall(part):
                if not _is_function(word):
                    out.append((re.sub(r"['’]s$", "", word.strip("'’.-")), _stem(word)))
    return out


def _keys(text: str) -> set[str]:
    return {key for _, key in content_words(text)}


def kept_share(question: str, text: str) -> float:
    """Share of ``question``'s content words that ``text`` still holds (1.0 when it has none)."""
    wanted = _keys(question)
    if not wanted:
        return 1.0
    have = _keys(text)
    # a Chinese word kept inside a longer one ("作用" in "促进作用") counts as kept
    return sum(1 for w in wanted if w in have or (_CJK.match(w) and w in text)) / len(wanted)


# --- does the question need the conversation? ----------------------------------------------
def _is_name(word: str, sentence_start: bool) -> bool:
    """A proper name, acronym or code: "Pfizer", "3M", "FY2018", "PLCIS", "BM25"."""
    if sum(ch.isupper() for ch in word) >= 2 or (any(ch.isdigit() for ch in word) and any(ch.isalpha() for ch in word)):
        return True
    return not sentence_start and word[:1].isupper() and word not in ("I", "I'm", "I've", "I'd")


def _opening(sentence: str) -> str | None:
    """The follow-up opening of a sentence ("and", "what about"), after interjections."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(sentence)]
    while words and words[0] in INTERJECTIONS:
        words = words[1:]
    lowered = " ".join(words)
    return next((o for o in OPENINGS if lowered == o or lowered.startswith(o + " ")), None)


def _read_english(question: str) -> Reading:
    names = bool(_QUOTED.search(question))
    words_before = 0
    lowered = " ".join(w.lower().replace("’", "'") for w in _WORD.findall(question))
    phrase = next((p for p in REFERRING_PHRASES if re.search(rf"\b{p}\b", lowered)), None)
    if phrase:
        return Reading(FOLLOW_UP, f"refers back with {phrase!r}")
    for sentence in _SENTENCE.split(question.strip()):
        opening = _opening(sentence)
        if opening:
            return Reading(FOLLOW_UP, f"opens with {opening!r}")
        said = " ".join(w.lower().replace("’", "'") for w in _WORD.findall(sentence)).rstrip(".")
        if said.endswith(ELLIPTIC_ENDINGS):
            return Reading(FOLLOW_UP, f"ends without its object ({said.rsplit(' ', 1)[-1]!r})")
        if re.match(r"how many (?:do|does|did|should|can|could|would|will|are|were|is|was)\b", said):
            return Reading(FOLLOW_UP, "'how many' without its noun")
        tokens = _WORD.findall(sentence)
        for i, word in enumerate(tokens):
            low = word.lower().replace("’", "'")
            nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            prev = tokens[i - 1].lower() if i else ""
            early = words_before < ANTECEDENT_WORDS and not names
            if low in ("that's", "that'll") or (low == "that" and (i == 0 or not nxt or prev in _THAT_BEFORE)):
                if early or i == 0:
                    return Reading(FOLLOW_UP, f"refers back with {word!r}")
            elif low in PRONOUNS or low.split("'")[0] in PRONOUNS:
                if early:
                    return Reading(FOLLOW_UP, f"{word!r} before anything it could stand for")
            elif low in DEMONSTRATIVES and _stem(nxt) not in DOCUMENT_NOUNS and nxt not in ("who", "which", "of"):
                if early or not nxt:
                    return Reading(FOLLOW_UP, f"refers back with {word!r}")
            elif low in ("one", "ones") and prev in ("which", "this", "that", "the", "other") and nxt != "of":
                if early:
                    return Reading(FOLLOW_UP, f"refers back with {prev + ' ' + word!r}")
            elif low in REFERRING or (low == "same" and prev == "the") or (low == "similar" and nxt != "to"):
                return Reading(FOLLOW_UP, f"refers back with {word!r}")
            if _is_name(word, sentence_start=i == 0):
                names = True
            if not _is_function(word):
                words_before += 1
    count = len(_keys(question))
    if count >= MIN_WORDS_WITHOUT_NAME or (names and count >= MIN_WORDS_WITH_NAME):
        return Reading(ALONE, f"{count} content words{' and a name' if names else ''}")
    if count < MIN_WORDS_WITH_NAME and not names:
        return Reading(FOLLOW_UP, f"a fragment of {count} content words")
    return Reading(UNSURE, f"{count} content words{', a name' if names else ', no name'}")


def _refers_back_zh(token: str) -> bool:
    return token in ZH_PRONOUNS or token in ZH_DEMONSTRATIVES or (
        token[:1] in "这那该" and len(token) <= 3 and token not in ZH_NOT_REFERRING)


def _read_chinese(question: str) -> Reading:
    text = question.strip()
    for ref in ZH_DOCUMENT_REFS:  # "本文" is the document, not the conversation
        text = text.replace(ref, "文档")
    text = text.lstrip("，,。.？?！!：:、 ")
    tokens = _jieba().lcut(text)
    if tokens and tokens[0] in ZH_OPENINGS:
        return Reading(FOLLOW_UP, f"opens with {tokens[0]!r}")
    words_before = 0
    for token in tokens:
        if _refers_back_zh(token) and words_before < ANTECEDENT_WORDS:
            return Reading(FOLLOW_UP, f"refers back with {token!r}")
        if token.strip() and token not in ZH_FUNCTION_WORDS and not re.fullmatch(r"\W+", token):
            words_before += 1
    cjk = len(_CJK.findall(text))
    if re.search(r"呢\s*[？?]?\s*$", text) and cjk < 12:
        return Reading(FOLLOW_UP, "a short question ending in 呢")
    names = bool(_LATIN.search(text)) or bool(_QUOTED.search(text))
    if cjk < 6 or words_before < 2:
        return Reading(FOLLOW_UP, f"a fragment of {cjk} characters")
    if cjk >= 8 or names:
        return Reading(ALONE, f"{cjk} characters{' and a name' if names else ''}")
    return Reading(UNSURE, f"{cjk} characters")


def read_question(question: str) -> Reading:
    """Whether ``question`` stands alone (search it as asked), refers back to the
    conversation, or cannot be told without the model."""
    reading = _read_chinese(question) if is_chinese(question) else _read_english(question)
    log.debug("question %r reads as %s (%s)", question, reading.kind, reading.reason)
    return reading


# --- the rewrite against the question ------------------------------------------------------
def earlier_questions(turns: Sequence[Message]) -> list[str]:
    return [m["content"] for m in turns if m["role"] == "user"]


def asked_part(question: str) -> str:
    """The question less the remarks before it: "Wow, that's better than I thought. What are
    common treatments?" asks "What are common treatments?"."""
    sentences = [s for s in _SENTENCE.split(question.strip()) if s]
    if is_chinese(question) or len(sentences) < 2:
        return question
    said = [s for s in sentences[:-1] if not _is_remark(s)]
    return " ".join([*said, sentences[-1]])


def _is_remark(sentence: str) -> bool:
    """A few words and no name: "Wow, that's better than I thought.", "That sounds easy to spot."."""
    tokens = _WORD.findall(sentence)
    named = any(_is_name(word, sentence_start=i == 0) for i, word in enumerate(tokens))
    return not named and len(_keys(sentence)) <= REMARK_WORDS


def rewrite_problem(question: str, rewrite: str, earlier: Sequence[str], follows_up: bool = False) -> str | None:
    """Why ``rewrite`` cannot stand for ``question``, or None when it can: it lost the
    question's own words (remarks aside), or it holds more of an earlier question than of
    this one. A follow-up takes its referent from an earlier question — "Once it breaks out,
    how likely is it to spread?" holds all of a short "What is breast cancer?" once resolved —
    so for one the rewrite may add up to REFERENT_ADDED_WORDS words of its own instead."""
    keep = kept_share(asked_part(question), rewrite)
    if keep < KEEP_MIN:
        return f"keeps {keep:.0%} of the question's words"
    if follows_up and len(_keys(rewrite) - _keys(question)) <= REFERENT_ADDED_WORDS:
        return None
    for before in earlier:
        if before.strip() != question.strip() and kept_share(before, rewrite) > keep:
            return f"closer to the earlier question {before!r}"
    return None


def referent(question: str, rewrite: str, turns: Sequence[Message]) -> str:
    """The words a rewrite added that the conversation holds: what "it" was resolved to."""
    asked = _keys(question)
    said = set().union(*(_keys(m["content"]) for m in turns)) if turns else set()
    added = [surface for surface, key in content_words(rewrite) if key not in asked and key in said]
    return " ".join(list(dict.fromkeys(added))[:MAX_REFERENT_WORDS])


def checked_rewrite(question: str, rewrite: str, turns: Sequence[Message], reading: Reading) -> str:
    """``rewrite`` when it stands for ``question``; else the question as asked, with the
    referent the rewrite found appended when the question refers back (``reading``) and
    the rewrite was still this question."""
    if rewrite.strip() == question.strip():
        return question
    problem = rewrite_problem(question, rewrite, earlier_questions(turns), follows_up=reading.kind == FOLLOW_UP)
    if problem is None:
        return rewrite
    # a rewrite of this question that lost a few words still says what "it" is; one that
    # became another question (an earlier one, or the old topic) says nothing about this one
    rewrote_this = kept_share(question, rewrite) >= REFERENT_MIN_KEEP and not problem.startswith("closer")
    found = referent(question, rewrite, turns) if reading.kind == FOLLOW_UP and rewrote_this else ""
    kept = f"{question} {found}" if found else question
    log.info("rewrite %r of %r rejected (%s); searching %r", rewrite, question, problem, kept)
    return kept

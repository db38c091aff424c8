"""Measurement 3: answer quality on FinanceBench with the bundled chat model.

For every question docchat answers through its pipeline (greedy, ``max_new_tokens``
modest because the bundled model is tiny). Scores: corpus BLEU and chrF (sacrebleu)
against the gold answers, the share of answers that state a gold figure (over the
questions whose gold answer has one), and citation accuracy — the share of answers
whose cited page ([n] marker → n-th source; the first source when no marker) is a gold
evidence page. Outside ``--quick`` the recipe's real ``ConversationalRetrievalChain``
answers too, on the same weights, for reference.
"""

from __future__ import annotations

import logging

from bench.data import GoldPage
from bench.harness import Bench
from bench.metrics import citation_correct, contains_gold_figure, text_overlap

log = logging.getLogger(__name__)


def _scores(questions, answers: list[str], pages: list[list[GoldPage]]) -> dict:
    figure_hits = [contains_gold_figure(a, q.answer, q.question) for q, a in zip(questions, answers)]
    figure_hits = [h for h in figure_hits if h is not None]
    citations = [citation_correct(a, p, q.gold) for q, a, p in zip(questions, answers, pages)]
    return {
        **text_overlap(answers, [q.answer for q in questions]),
        "gold_figure_share": sum(figure_hits) / len(figure_hits) if figure_hits else 0.0,
        "gold_figure_n": len(figure_hits),
        "citation_accuracy": sum(c for c, _ in citations) / len(citations) if citations else 0.0,
        "explicit_citation_share": sum(e for _, e in citations) / len(citations) if citations else 0.0,
    }


def run(bench: Bench) -> dict:
    from llm.types import GenerationParams
    from rag.pipeline import TurnRequest

    bench.index_finance()
    questions = bench.finance_corpus().questions[: bench.options.answer_questions or None]
    services = bench.finance_docchat
    params = GenerationParams(max_new_tokens=bench.options.max_new_tokens, temperature=0.0,
                              repetition_penalty=1.1)
    answers, pages, samples = [], [], []
    for q in questions:
        result = services.pipeline.run_turn(
            TurnRequest(user_id="bench", text=q.question, params=params, history=[], persist=False)
        )
        answers.append(result.text.strip())
        pages.append([GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in result.sources])
        if len(samples) < 5:
            samples.append({"id": q.id, "question": q.question, "gold": q.answer, "answer": result.text.strip()})
    out = {"n": len(questions), "max_new_tokens": params.max_new_tokens, "chat_model": bench.llm.name,
           "docchat": _scores(questions, answers, pages), "samples": samples}

    if not bench.options.quick:
        out["recipe"] = _recipe_answers(bench, questions)
    return out


def _recipe_answers(bench: Bench, questions) -> dict:
    """seed 004's chain on the same weights; its prompt has no citation markers, so
    citation accuracy is the first retrieved page."""
    from bench.recipe import conversational_chain, langchain_chat_model, source_pages

    chain = conversational_chain(langchain_chat_model(bench.llm, bench.options.max_new_tokens),
                                 bench.finance_recipe)
    answers, pages = [], []
    for q in questions:
        try:
            result = chain.invoke({"question": q.question, "chat_history": []})
            answers.append(str(result["answer"]).strip())
            pages.append(source_pages(result))
        except Exception as exc:  # e.g. 4 x 4000-char chunks overflowing the model context
            log.warning("recipe chain failed on %s: %s", q.id, exc)
            answers.append("")
            pages.append([])
    return {**_scores(questions, answers, pages), "failed": sum(1 for a in answers if not a)}

"""The composer's parameters: lengths, thresholds and the weights of its evidence.

One frozen dataclass, as `ChunkingParams` is for chunking, so that a test or
an experiment passes other values instead of patching module constants.

The sentence weights are fitted, not set by hand: `benchmarks/fit_composer.py`
fits a listwise (softmax) ranker on the development set and the half of
COVID-QA whose question id hashes even (sha256, first byte), and reports
COVID-QA on the other half. Each weight multiplies one feature of
`esqa.answer.sentences.FEATURES`; features are on comparable scales (shares,
similarities, 0/1 flags), so the weights read as importances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Fitted by benchmarks/fit_composer.py (see the README, "Results"); the order is FEATURES'.
FITTED_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("coverage", -0.856),
    ("context_coverage", 4.057),
    ("dense", 0.49),
    ("rank", 0.858),
    ("lexical", 0.966),
    ("typed", 2.014),
    ("novel", 0.301),
    ("log_length", 0.449),
    ("teaser", -0.098),
    ("first", 0.265),
    ("title", -0.231),
    ("proximity", 0.236),
    ("paraphrase", -0.305),
    ("bag_similarity", 0.613),
    ("bigrams", 1.965),
    ("previous_coverage", 0.005),
    ("next_coverage", 0.277),
    ("chunk_coverage", 3.405),
    ("typed_value", 1.126),
    ("typed_entity", -0.623),
    ("typed_definition", 1.17),
    ("heading", -1.419),
    # With a sentence's own vector, a sentence that adds to the question
    # (`novel`) no longer loses: the one that restates it need not be
    # preferred for being near it (-0.255 before this feature, +0.244 with it
    # at 24 passages read, +0.096 at 40).
    ("sentence_dense", 2.689),
    ("soft_coverage", 2.726),
    ("previous_dense", 0.914),
    ("next_dense", 0.321),
    ("passage_dense", 2.455),
    ("subject", 0.452),
    ("first_term", 0.291),
    ("after", 0.432),
    ("symbols", 0.802),
)


@dataclass(frozen=True)
class ComposerParams:
    max_answer_chars: int = 600  # the grader reads at most this much of an answer
    max_sentences: int = 3
    citations: int = 3
    # Abstain when the best evidence covers less of the question than this.
    min_support: float = 0.5
    # The next sentence joins the best one when it carries the same subject on
    # and the two stay readable together.
    continuation_chars: int = 400
    # A word of a sentence stands for a question word at this cosine of their
    # word-piece vectors or above (France/French 0.70, designer/architect 0.41).
    paraphrase_similarity: float = 0.6
    # A sentence from another paragraph joins when it adds this share of the
    # question's weight and scores within `join_score_ratio` of the best.
    join_gain: float = 0.25
    join_score_ratio: float = 0.85
    weights: tuple[tuple[str, float], ...] = field(default=FITTED_WEIGHTS)
    # Candidate answers (esqa.answer.evidence): how far (in words) a question
    # term may sit from a candidate before its support halves, how much each
    # further article that holds the candidate adds, and how much a phrase
    # of another kind than the one asked for counts.
    proximity_words: float = 8.0
    independent_support: float = 0.35
    other_kind: float = 0.5
    focus_adjacent: float = 1.5
    # A name found beside the focus noun of a question that names a class
    # ("which team", "what virus") but outside the best sentence replaces it
    # only when its support (`esqa.answer.evidence`: a sentence as good as the
    # best counts 1, one a point below exp(-1), less for distance) reaches this;
    # weaker, the best sentence stands. On the fit half of COVID-QA every
    # value from 0.2 to 1.0 gives the same answers.
    focus_min_support: float = 0.35
    # A candidate in the sentence before the one that supports it ("The same
    # year, ...") counts at this share.
    lean_back: float = 0.5
    # Sentences read for candidates, best first.
    candidate_sentences: int = 40
    # Confidence: a logistic regression of "the answer is right" on the evidence
    # (Composer.confidence), fitted by benchmarks/fit_composer.py as the weights are.
    confidence_bias: float = -1.447
    confidence_support: float = 0.0
    confidence_margin: float = 0.205
    confidence_share: float = 0.23
    confidence_probability: float = 2.745

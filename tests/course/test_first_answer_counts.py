"""In the app a question's first answer is what mastery counts; answering again is practice."""

from __future__ import annotations

from course.app_pages.widgets import FIRST_ANSWER_NOTE
from course.modules import CONTENT_DIR, load_modules
from course.progress import ProgressStore
from tests.course.test_app_pages import _app, _first_module, _open_module, _sign_in, _submit


def _notes(at) -> int:
    return sum(FIRST_ANSWER_NOTE in c.value for c in at.caption)


def _answer(at, key: str, option: str) -> None:
    at.radio(key=f"choice:{key}").set_value(option)
    _submit(at, f"form:{key}")
    assert not at.exception


def test_a_quiz_re_answered_until_right_says_so_and_counts_its_first_answer(app_home):
    module = _first_module()
    question = module.quiz[0]
    wrong = next(o.text for o in question.options if o.text != question.answer)
    at = _open_module(_sign_in(_app()), module)
    assert _notes(at) == 0                  # nothing is said before the first answer
    key = f"quiz:{module.id}:{question.id}"
    _answer(at, key, wrong)
    assert _notes(at) == 1
    _answer(at, key, question.answer)
    assert any(question.explain in s.value for s in at.success) and _notes(at) == 1
    store = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    assert list(store.attempts_frame(module.id)["answer"]) == [wrong, question.answer]
    summary = store.learner_summary("ada", {module.id: len(module.quiz) + 1})
    assert summary["modules"][module.id]["item_scores"][question.id] == 0.0

    later = _open_module(_sign_in(_app()), module)   # a new session: the note comes back
    assert any("Earlier you answered" in c.value and FIRST_ANSWER_NOTE in c.value
               for c in later.caption)


def test_a_prediction_is_not_told_it_counts_towards_mastery(app_home):
    module = _first_module()
    ref = next(c for c in module.charts if c.predict is not None)
    at = _open_module(_sign_in(_app()), module)
    _answer(at, f"prediction:{module.id}:{ref.predict.id}", ref.predict.answer)
    assert _notes(at) == 0


def test_a_retrieval_question_counts_its_first_answer_for_the_reviewed_module(app_home):
    modules, _ = load_modules(CONTENT_DIR)
    module = next(m for m in modules if any(":" in q.objective for q in m.retrieval))
    question = next(q for q in module.retrieval if ":" in q.objective)
    reviewed = question.objective.partition(":")[0]
    wrong = next(o.text for o in question.options if o.text != question.answer)
    at = _open_module(_sign_in(_app()), module)
    key = f"retrieval:{module.id}:{question.id}"
    _answer(at, key, wrong)
    _answer(at, key, question.answer)
    assert _notes(at) == 1
    store = ProgressStore(f"sqlite:///{app_home / 'progress.sqlite'}")
    reviews = store.attempts_frame(reviewed, "ada")
    assert list(reviews["correct"]) == [False, True] and set(reviews["kind"]) == {"review"}
    for item in next(m for m in modules if m.id == reviewed).quiz:   # proficient in that module
        store.record_attempt("ada", reviewed, item.id, "quiz", item.answer, True, 1.0, None)
    assert store.learner_summary("ada")["mastery"][reviewed] == "proficient"   # not mastered

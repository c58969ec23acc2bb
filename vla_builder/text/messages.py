"""The wording of the QA checks, per language: one catalog, so a rule's text is found (and translated) in one place.

Each entry is a `str.format` template per language. Korean templates write 을(를), 이(가), 은(는), 와(과) after an
inserted word; `msg` picks the form its last syllable takes (`traces.particles`). An entry without a Korean text
belongs to an English-only rule.
"""

from __future__ import annotations

import re

MESSAGES: dict[str, dict[str, str]] = {
    # not_empty
    "non_empty_unanswerable": {"en": "question and context are both non-empty", "ko": "질문과 지문이 모두 비어 있지 않다"},
    "non_empty": {"en": "question, context and answer are all non-empty", "ko": "질문, 지문, 답이 모두 비어 있지 않다"},
    "empty": {"en": "empty: {roles}", "ko": "비어 있음: {roles}"},
    # unanswerable records
    "no_answer_given": {"en": "the record marks the question unanswerable and gives no answer",
                        "ko": "레코드가 질문을 답할 수 없음으로 표시하고 답을 주지 않는다"},
    "answer_given": {"en": "marked unanswerable but gives the answer '{answer}'",
                     "ko": "답할 수 없음으로 표시했지만 답 '{answer}'을(를) 준다"},
    "on_topic": {"en": "the context's closest sentence shares {words}; it does not state the answer (by the record's "
                       "label, which text alone cannot prove)",
                 "ko": "가장 가까운 문장이 {words}을(를) 공유하지만 답을 말하지 않는다(레코드의 표시에 따름, 본문만으로는 "
                       "증명할 수 없음)"},
    "off_topic": {"en": "no context sentence shares a content word with the question",
                  "ko": "질문과 내용어를 공유하는 지문 문장이 없다"},
    # answer_start_matches
    "start_matches": {"en": "the answer is at character {start}, as the record says",
                      "ko": "답이 레코드가 말한 {start}번째 글자에 있다"},
    "start_elsewhere": {"en": "character {start} holds '{there}', not the answer{occurs}",
                        "ko": "{start}번째 글자에는 답이 아니라 '{there}'이(가) 있다{occurs}"},
    "occurs_at": {"en": " (which occurs at {at})", "ko": " (답은 {at}번째에 있음)"},
    # answer_in_context
    "not_in_context": {"en": "'{answer}' does not occur in the context", "ko": "'{answer}'이(가) 지문에 없다"},
    "in_context": {"en": "'{answer}' found at characters {start}-{end}", "ko": "'{answer}'이(가) {start}-{end}번째 글자에 있다"},
    "in_context_loose": {"en": " as '{found}' (only when ignoring case and spacing)",
                         "ko": " ('{found}', 대소문자와 띄어쓰기를 무시할 때만)"},
    # answer_supported
    "supported": {"en": "its sentence shares {words} with the question",
                  "ko": "답이 있는 문장이 질문과 {words}을(를) 공유한다"},
    "restated": {"en": "the answer's words recur in another sentence, which shares {words} with the question",
                 "ko": "답의 말이 다른 문장에 다시 나오고, 그 문장이 질문과 {words}을(를) 공유한다"},
    "shares_nothing": {"en": "its sentence shares no content word with the question",
                       "ko": "답이 있는 문장이 질문과 내용어를 공유하지 않는다"},
    "weak_support": {"en": "its sentence shares only {words}; another sentence matches the question at least twice as "
                           "well — weak support",
                     "ko": "답이 있는 문장은 {words}만 공유하고 다른 문장이 질문과 두 배 이상 더 맞는다 — 근거가 약함"},
    "elsewhere": {"en": "the question's words ({words}) point to another sentence: the answer's carries {share:.0%} of "
                        "its overlap",
                  "ko": "질문의 말({words})이 다른 문장을 가리킨다: 답이 있는 문장은 그 문장 겹침의 {share:.0%}만 갖는다"},
    "not_elsewhere": {"en": "no other sentence holds the question clearly enough to count against the answer (its "
                            "sentence carries {share:.0%} of the best one's overlap, which shares {words})",
                      "ko": "답을 반박할 만큼 질문을 분명히 담은 다른 문장이 없다(답이 있는 문장이 가장 맞는 문장 겹침의 "
                            "{share:.0%}를 갖고, 그 문장은 {words}을(를) 공유한다)"},
    "no_overlap": {"en": "no sentence of the context shares a content word with the question: support cannot be "
                         "judged from the words",
                   "ko": "지문의 어느 문장도 질문과 내용어를 공유하지 않아 말로는 근거를 판단할 수 없다"},
    # answer_not_in_question
    "adds_something": {"en": "the answer adds something the question does not already say",
                       "ko": "답이 질문에 이미 있는 말만으로 되어 있지 않다"},
    "echoes_question": {"en": "the answer only repeats the question's own words ({words})",
                        "ko": "답이 질문의 말({words})을 되풀이할 뿐이다"},
    "names_subject": {"en": "the answer names the question's own subject ({words})"},
    # answer_type: the check's two sentences, then each rule's reason (see rules_qa.TYPE_RULES)
    "type_fits": {"en": "the question asks for {expects} and the answer fits", "ko": "질문이 {expects}을(를) 묻고 답이 이에 맞는다"},
    "type_clash": {"en": "the question asks for {expects}, but {why}", "ko": "질문이 {expects}을(를) 묻는데 {why}"},
    "no_number": {"en": "the answer holds no number", "ko": "답에 수가 없다"},
    "year_not_count": {"en": "the answer is a year (the context dates something with it), not a count"},
    "no_number_or_time": {"en": "the answer holds neither a number nor a time word", "ko": "답에 수도 시간 표현도 없다"},
    "no_frequency": {"en": "the answer says no frequency, number or time", "ko": "답에 빈도, 수, 시간 표현이 없다"},
    "not_a_degree": {"en": "the answer is a direction or a name, not a measure or degree",
                     "ko": "답이 정도나 수치가 아니라 방향이나 이름이다"},
    "no_time": {"en": "the answer holds no time expression", "ko": "답에 시간 표현이 없다"},
    "count_not_time": {"en": "the answer is a count, not a time", "ko": "답이 시점이 아니라 횟수나 개수다"},
    "only_number_or_date": {"en": "the answer is only a number or a date", "ko": "답이 수나 날짜뿐이다"},
    "person_not_place": {"en": "the answer names a person (a title, a regnal number or 'the duke, X'), not a place"},
    "degree_not_place": {"en": "the answer is a description of degree ('most …'), not a place"},
    "event_not_person": {"en": "the answer names an event, a place or a thing, not a person or group"},
    "names_none": {"en": "the question asks for a named place or group, but the answer names none"},
    "not_an_alternative": {"en": "the question offers alternatives ('... or ...') and the answer is none of them"},
    "names_one": {"en": "it asks for {n} things and the answer names one"},
    # answer_by_focus (Korean)
    "focus_holds": {"en": "the answer's sentence holds the question's focus word '{word}'",
                    "ko": "답이 있는 문장이 질문의 중심어 '{word}'을(를) 담는다"},
    "focus_kind_beside": {"en": "the focus word '{word}' is in another sentence, but the answer stands right before "
                                "'{kind}', the kind the question asks for",
                          "ko": "중심어 '{word}'은(는) 다른 문장에 있지만 답 바로 뒤에 질문이 묻는 '{kind}'이(가) 있다"},
    "focus_elsewhere": {"en": "the question's focus word '{word}' is in another sentence, not in the answer's",
                        "ko": "질문의 중심어 '{word}'은(는) 다른 문장에 있고 답이 있는 문장에는 없다"},
    # answer_nearest
    "nearest": {"en": "no span of the same kind in its sentence sits closer to the question's words (nearness "
                      "{near:.2f})",
                "ko": "같은 문장에서 같은 종류의 다른 구간이 질문의 말에 더 가깝지 않다(근접도 {near:.2f})"},
    "rival_nearer": {"en": "'{rival}' sits much closer to the question's words in the same sentence (nearness "
                           "{rival_near:.2f} against {near:.2f})",
                     "ko": "같은 문장에서 '{rival}'이(가) 질문의 말에 훨씬 더 가깝다(근접도 {rival_near:.2f}, 답 {near:.2f})"},
    # step 1 and 2 of the trace
    "basis_unanswerable": {"en": "The question asks for {expects}; its key terms are {terms}. The record marks it as "
                                 "not answered by the context{closest}",
                           "ko": "질문은 {expects}을(를) 묻고 핵심어는 {terms}이다. 레코드는 지문이 이 질문에 답하지 "
                                 "않는다고 표시한다{closest}"},
    "basis_closest": {"en": "; the closest sentence is {quotes}.", "ko": ". 가장 가까운 문장은 {quotes}이다."},
    "basis_1": {"en": "The question asks for {expects}, copied verbatim from the context. It turns on {terms}; the "
                      "sentence holding the answer is {quotes}",
                "ko": "질문은 지문에서 그대로 옮긴 {expects}을(를) 묻는다. 핵심어는 {terms}이고, 답이 있는 문장은 {quotes}이다."},
    "basis_2": {"en": "This is extractive QA: the answer, {expects}, must be a span of the context. Key terms in the "
                      "question: {terms}. The context states the answer in {quotes}",
                "ko": "추출형 질의응답이다: 답({expects})은 지문의 한 구간이어야 한다. 질문의 핵심어는 {terms}이며, 지문은 "
                      "{quotes}에서 답을 말한다."},
    "basis_3": {"en": "To answer I need {expects} taken from the context. The question rests on {terms}, and the "
                      "answer's sentence is {quotes}",
                "ko": "답하려면 지문에서 {expects}을(를) 찾아야 한다. 질문은 {terms}에 기대고, 답이 있는 문장은 {quotes}이다."},
    "basis_unplaced": {"en": "The question asks for {expects} from the context ({terms}), but the candidate answer "
                             "could not be placed in it.",
                       "ko": "질문은 지문에서 {expects}을(를) 묻지만({terms}) 후보 답을 지문에서 찾지 못했다."},
    "verify_1": {"en": "Checking the candidate answer against the context:", "ko": "후보 답을 지문과 대조한다:"},
    "verify_2": {"en": "Verifying the given answer:", "ko": "주어진 답을 검증한다:"},
    "verify_3": {"en": "Checks on the candidate answer:", "ko": "후보 답에 대한 검증:"},
    "qa_label_space": {"en": "a span of the context", "ko": "지문의 한 구간"},
    "question_and_context": {"en": "question and context", "ko": "질문과 지문"},
    "a_fact": {"en": "a fact", "ko": "사실"},
    # --- shared by every task ---
    "duplicate_none": {"en": "no earlier record has the same {what}", "ko": "같은 {what}의 앞선 레코드가 없다"},
    "duplicate_of": {"en": "same {what} as the earlier record {earlier}", "ko": "앞선 레코드 {earlier}와 {what}이(가) 같다"},
    "label_in_set": {"en": "'{label}' is one of {{{space}}}", "ko": "'{label}'은(는) {{{space}}} 중 하나다"},
    "label_not_in_set": {"en": "'{label}' is not one of {{{space}}}", "ko": "'{label}'은(는) {{{space}}}에 없다"},
    # --- multiple choice ---
    "non_empty_multiple_choice": {"en": "question and every choice are non-empty",
                                  "ko": "질문과 모든 선택지가 비어 있지 않다"},
    "role_choices": {"en": "choices", "ko": "선택지"},
    "what_multiple_choice": {"en": "question and choices", "ko": "질문과 선택지"},
    "choices_distinct": {"en": "no two choices are the same", "ko": "같은 선택지가 없다"},
    "choices_repeat": {"en": "two choices read the same", "ko": "같은 선택지가 있다"},
    "index_in_range": {"en": "the answer '{answer}' names choice {letter} of {letters}",
                       "ko": "답 '{answer}'은(는) {letters} 중 {letter}번 선택지다"},
    "index_out_of_range": {"en": "the answer '{answer}' names no choice of {letters}",
                           "ko": "답 '{answer}'에 해당하는 선택지가 없다"},
    "choice_covered": {"en": "the passage covers {share:.0%} of the chosen choice's content words",
                       "ko": "지문이 고른 선택지 내용어의 {share:.0%}를 담는다"},
    "choice_covered_better": {"en": "; {top} is covered better ({best:.0%}) — flagged, since a passage need not repeat "
                                    "the right option",
                              "ko": "; {top}이(가) 더 잘 담긴다({best:.0%}) — 보류"},
    # --- NLI ---
    "non_empty_nli": {"en": "premise and hypothesis are both non-empty", "ko": "전제와 가설이 모두 비어 있지 않다"},
    "what_nli": {"en": "premise and hypothesis", "ko": "전제와 가설"},
    "nli_cues": {"en": "the hypothesis shares {coverage:.0%} of its content words with the premise{one_sided}",
                 "ko": "가설 내용어의 {coverage:.0%}가 전제에 있다{one_sided}"},
    "one_sided": {"en": "; negation on one side only", "ko": "; 한쪽에만 부정 표현"},
    "consistent": {"en": ", consistent with '{label}'", "ko": ", '{label}'와(과) 맞는다"},
    "undecidable": {"en": " (undecidable from the words alone)", "ko": " (단어만으로는 판정할 수 없음)"},
    "suggests": {"en": ", which suggests '{suggests}', not '{label}' — flagged for review",
                 "ko": ", '{label}'보다 '{suggests}'에 가깝다 — 검토 대상"},
    "numbers_entailed": {"en": "every number in the hypothesis is in the premise", "ko": "가설의 모든 수가 전제에 있다"},
    "new_numbers": {"en": "the hypothesis states {numbers}, which the premise does not: it cannot be entailed",
                    "ko": "가설이 전제에 없는 수 {numbers}을(를) 말하므로 함의일 수 없다"},
    "polarity_ok": {"en": "no word is negated on one side and stated on the other",
                    "ko": "한쪽에서 부정되고 다른 쪽에서 긍정되는 말이 없다"},
    "polarity_clash": {"en": "{words} is negated on one side and stated on the other: no entailment",
                       "ko": "{words}이(가) 한쪽에서는 부정되고 다른 쪽에서는 긍정되므로 함의가 아니다"},
    # --- summarization ---
    "non_empty_summarization": {"en": "document and summary are both non-empty", "ko": "문서와 요약이 모두 비어 있지 않다"},
    "what_summarization": {"en": "document", "ko": "문서"},
    "numbers_supported": {"en": "every number in the summary appears in the document", "ko": "요약의 모든 수가 문서에 있다"},
    "numbers_missing": {"en": "not in the document: {numbers}", "ko": "문서에 없는 수: {numbers}"},
    "names_supported": {"en": "every name in the summary appears in the document", "ko": "요약의 모든 이름이 문서에 있다"},
    "names_missing": {"en": "names not in the document: {names}", "ko": "문서에 없는 이름: {names}"},
    "content_share": {"en": "{coverage:.0%} of the summary's content words come from the document",
                      "ko": "요약 내용어의 {coverage:.0%}가 문서에서 온다"},
    "content_missing": {"en": "; not found: {words}", "ko": "; 문서에 없음: {words}"},
    "lengths": {"en": "{summary} characters against the document's {document}", "ko": "요약 {summary}자, 문서 {document}자"},
    # --- classification (its checks speak English in both languages) ---
    "non_empty_classification": {"en": "text and label are both non-empty"},
    "what_classification": {"en": "text", "ko": "본문"},
    "no_cues": {"en": "no cue words in the text"},
    "cues_point": {"en": "cue words point to {labels}"},
    "cues_not": {"en": ", not '{label}'"},
    # --- step wording of the other tasks ---
    "mc_passage": {"en": "; the passage to rely on: \"{passage}\"", "ko": ". 근거 지문: \"{passage}\""},
    "mc_basis_1": {"en": "Exactly one of the options {opts} answers \"{question}\"{passage}",
                   "ko": "선택지 {opts} 중 하나가 \"{question}\"의 답이다{passage}"},
    "mc_basis_2": {"en": "The question \"{question}\" offers {n} options ({opts}); one is right.",
                   "ko": "질문 \"{question}\"에는 선택지 {n}개({opts})가 있고 그중 하나가 맞다."},
    "mc_verify": {"en": "Checking the chosen option:", "ko": "고른 선택지를 검증한다:"},
    "nli_basis_1": {"en": "The relation between premise \"{premise}\" and hypothesis \"{hypothesis}\" is one of "
                          "{{{space}}}. Shared: {shared}; new in the hypothesis: {new}.",
                    "ko": "전제 \"{premise}\"와 가설 \"{hypothesis}\"의 관계는 {{{space}}} 중 하나다. 공유하는 말: "
                          "{shared}; 가설에만 있는 말: {new}."},
    "nli_basis_2": {"en": "Does \"{premise}\" support \"{hypothesis}\"? The hypothesis repeats {shared} and adds {new}.",
                    "ko": "\"{premise}\"가 \"{hypothesis}\"를 뒷받침하는가? 가설은 {shared}을(를) 되풀이하고 {new}을(를) "
                          "더한다."},
    "nli_verify": {"en": "Checking the given relation:", "ko": "주어진 관계를 검증한다:"},
    "summary_label_space": {"en": "a faithful summary of the document", "ko": "문서의 충실한 요약"},
    "summary_basis_1": {"en": "The summary must state only what the document \"{document}\" says; its key terms are "
                              "{terms}.",
                        "ko": "요약은 문서 \"{document}\"가 말하는 것만 담아야 한다. 요약의 핵심어는 {terms}이다."},
    "summary_basis_2": {"en": "A faithful summary of \"{document}\" draws its facts and numbers from it.",
                        "ko": "\"{document}\"의 충실한 요약은 사실과 수를 문서에서 가져온다."},
    "summary_verify": {"en": "Checking the summary against the document:", "ko": "요약을 문서와 대조한다:"},
    "cls_basis_1": {"en": "The instruction asks for exactly one label from {{{space}}}, and the answer depends on the "
                          "whole text: \"{text}\"",
                    "ko": "{{{space}}} 중 정확히 하나의 레이블을 골라야 하며, 근거는 본문 전체다: \"{text}\""},
    "cls_basis_2": {"en": "One label out of {{{space}}} has to be chosen for the text \"{text}\"",
                    "ko": "본문 \"{text}\"에 {{{space}}} 중 하나의 레이블을 붙여야 한다"},
    "cls_basis_3": {"en": "The task is classification over {{{space}}}; the evidence is the text itself: \"{text}\""},
    "cls_cues": {"en": " Cue words: {cues}.", "ko": " 단서어: {cues}."},
    "cls_verify_1": {"en": "Checking the given label:", "ko": "주어진 레이블을 검증한다:"},
    "cls_verify_2": {"en": "Verifying the label against the text and the label set:",
                     "ko": "레이블을 본문과 레이블 집합에 대조한다:"},
    "cls_verify_3": {"en": "Checks on the candidate label:"},
    # --- step 3 and the check marks, every task ---
    "unconfirmed_1": {"en": "Verification failed ({names}), so no answer can be confirmed.",
                      "ko": "검증에 실패했으므로({names}) 답을 확정할 수 없다."},
    "unconfirmed_2": {"en": "No answer can be confirmed: {names} did not pass.",
                      "ko": "{names} 검증을 통과하지 못해 확정할 답이 없다."},
    "confirmed_1": {"en": "Every check passes, so the answer is confirmed: {answer}.",
                    "ko": "모든 검증을 통과했으므로 답을 확정한다: {answer}."},
    "confirmed_2": {"en": "The candidate is supported by the input and survives every check: {answer}.",
                    "ko": "후보 답이 입력에 근거하고 모든 검증을 통과한다: {answer}."},
    "confirmed_3": {"en": "Confirmed: {answer}.", "ko": "확정: {answer}."},
    "mark_pass": {"en": "pass", "ko": "통과"},
    "mark_fail": {"en": "fail", "ko": "실패"},
    "mark_flag": {"en": "flag", "ko": "보류"},
}


def msg(key: str, lang: str, **values: object) -> str:
    """The catalog's text for `key` in `lang` (English where the rule has no Korean text), filled with `values`."""
    texts = MESSAGES[key]
    if lang == "ko" and "ko" in texts:
        return particles(texts["ko"].format(**values))
    return texts["en"].format(**values)


_PARTICLE = re.compile(r"(을\(를\)|이\(가\)|은\(는\)|와\(과\))")
_PAIRS = {"을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"), "와(과)": ("과", "와")}


def particles(text: str) -> str:
    """Korean templates write 을(를) after an inserted word; pick the one its last syllable takes (받침 or not):
    '리슐리외'가, 1624년을. After a non-Hangul ending (a Latin word, a digit) the neutral form stays."""
    def pick(m: re.Match) -> str:
        before = text[:m.start()].rstrip("'\"”’)]」』 ")
        last = before[-1:] if before else ""
        if not "\uac00" <= last <= "\ud7a3":
            return m.group(0)
        with_final, without = _PAIRS[m.group(0)]
        return with_final if (ord(last) - 0xAC00) % 28 else without
    return _PARTICLE.sub(pick, text)

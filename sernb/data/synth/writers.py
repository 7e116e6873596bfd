"""Writing the IEMOCAP text files: the dialog timelines, EmoEvaluation (summary and evaluator
lines), Categorical and transcriptions, in IEMOCAP's exact formats.
"""

from __future__ import annotations

import csv
import io
import zlib
from pathlib import Path

from sernb.data.cuetable import CUE_WORD_COLUMNS, CUE_WORDS_NAME, CUES_FILE_COLUMNS, CUES_NAME
from sernb.data.synth.planning import DialogPlan, Turn
from sernb.data.synth.render import SAMPLE_RATE, write_corpus_file

CORPUS_DIR = "IEMOCAP_full_release"

# ----------------------------------------------------------------------------------------------
# Writing the text files
# ----------------------------------------------------------------------------------------------

EMO_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"


def lay_out_timeline(plan: DialogPlan) -> None:
    """Start/end times from real durations: turns follow each other along the dialog."""
    t = plan.t0
    for turn in plan.turns:
        t += turn.gap_s
        turn.start = round(t, 4)
        turn.end = round(t + turn.n_samples / SAMPLE_RATE, 4)
        t = turn.end


def emo_evaluation_text(plan: DialogPlan) -> str:
    """``EmoEvaluation/<dialog>.txt``: header, then one block per turn, blank-line separated."""
    parts = [EMO_HEADER, ""]
    for turn in sorted(plan.turns, key=lambda u: u.start):
        v, a, d = turn.vad
        parts.append(f"[{turn.start:.4f} - {turn.end:.4f}]\t{turn.utt_id}\t{turn.label}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
        parts.extend(turn.evaluation)
        parts.append("")
    return "\n".join(parts) + "\n"


def transcription_text(plan: DialogPlan) -> str:
    """``transcriptions/<dialog>.txt``: one line per turn by time, junk ``XX0`` lines included."""
    lines = []
    for turn in plan.turns:
        if turn.junk:
            j_start = turn.start - turn.gap_s + 0.15
            j_end = j_start + 0.6
            lines.append((j_start, f"{turn.junk} [{j_start:08.4f}-{j_end:08.4f}]: {_junk_words(turn)}"))
        lines.append((turn.start, f"{turn.utt_id} [{turn.start:08.4f}-{turn.end:08.4f}]: {turn.text}"))
    return "\n".join(line for _, line in sorted(lines)) + "\n"


def _junk_words(turn: Turn) -> str:
    options = ("[LAUGHTER]", "Mm-hmm.", "[BREATHING]", "Yeah.", "Uh.")
    return options[zlib.crc32(turn.utt_id.encode()) % len(options)]


def categorical_text(plan: DialogPlan) -> str:
    """``Categorical/<dialog>_e1_cat.txt``: the per-evaluator files real IEMOCAP also ships."""
    rows = []
    for turn in sorted(plan.turns, key=lambda u: u.start):
        first = turn.evaluation[0].split("\t")[1].split(";")[0]
        rows.append(f"{turn.utt_id} :{'Neutral state' if first == 'Neutral' else first}; ()")
    return "\n".join(rows) + "\n"


def write_text_files(root: Path, plans: list[DialogPlan]) -> None:
    """EmoEvaluation and transcription files per dialog, plus the extras real copies contain."""
    first_of_session: set[int] = set()
    for plan in plans:
        session_dir = root / CORPUS_DIR / f"Session{plan.spec.session}" / "dialog"
        name = plan.spec.name
        write_corpus_file(session_dir / "EmoEvaluation" / f"{name}.txt", emo_evaluation_text(plan).encode())
        write_corpus_file(session_dir / "transcriptions" / f"{name}.txt", transcription_text(plan).encode())
        if plan.spec.session not in first_of_session:  # one small Categorical file per session
            first_of_session.add(plan.spec.session)
            write_corpus_file(session_dir / "EmoEvaluation" / "Categorical" / f"{name}_e1_cat.txt",
                        categorical_text(plan).encode())
    # a macOS AppleDouble file, as found in copies of IEMOCAP made on a Mac: loaders must skip it
    apple = root / CORPUS_DIR / "Session1" / "dialog" / "EmoEvaluation" / f"._{plans[0].spec.name}.txt"
    write_corpus_file(apple, b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")


def cues_csv_text(plans: list[DialogPlan]) -> str:
    """``cues.csv``: each utterance's cue kinds, its cue word and token index (whitespace tokens of
    the transcript; "" and -1 when no word carries the cue) and the cue's span in seconds from the
    clip's start: from the first to the last word carrying a word-level cue (the lexical or
    stressed word; the three words of ``local``), or the whole speech for ``global`` and ``contour``."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CUES_FILE_COLUMNS)
    for plan in plans:
        for turn in plan.turns:
            cue, times = turn.cue, turn.word_times
            if cue is None or not times:
                raise ValueError(f"{turn.utt_id}: no cue plan or word times to write")
            span = [times[i] for i in cue.cue_tokens] or [times[0], times[-1]]
            start, end = span[0].start, span[-1].end
            out.writerow([turn.utt_id, cue.kinds_name, cue.cue_word, cue.cue_token, f"{start:.4f}", f"{end:.4f}"])
    return buf.getvalue()


def cue_words_csv_text(plans: list[DialogPlan]) -> str:
    """``cue_words.csv``: every word's span in its clip and the SSML prosody change it was given."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CUE_WORD_COLUMNS)
    for plan in plans:
        for turn in plan.turns:
            for w, (p, v, r) in zip(turn.word_times or [], turn.cue.prosody if turn.cue else [], strict=True):
                out.writerow([turn.utt_id, w.token, w.word, f"{w.start:.4f}", f"{w.end:.4f}",
                              f"{p:+.0f}", f"{v:+.0f}", f"{r:+.0f}"])
    return buf.getvalue()


def write_cue_tables(root: Path, plans: list[DialogPlan]) -> None:
    """The two sidecar tables of the cue corpus, beside ``IEMOCAP_full_release/``."""
    write_corpus_file(root / CUES_NAME, cues_csv_text(plans).encode())
    write_corpus_file(root / CUE_WORDS_NAME, cue_words_csv_text(plans).encode())

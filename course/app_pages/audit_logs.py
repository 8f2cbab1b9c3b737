"""Staff: audit your own logs. Upload usage exports and delivery files; get the team-level report
that `theater audit` writes. Nothing uploaded is kept: the files live in a temporary folder for the
length of one run, and only the team-week aggregates are shown."""

import tempfile
from pathlib import Path

import streamlit as st

from course.app_pages import common
from datasets.errors import UserError

st.title("Audit your own logs")
common.require_staff("trainer", "trainers and instructors")

st.markdown(
    "Upload your organisation's AI-usage exports (GitHub Copilot, OpenAI, Microsoft 365, Amazon Q, "
    "Claude Code, Cursor) and the delivery data your teams already have (a `gh pr list --json` "
    "export, a Jira issues CSV, an incident list), with a roster of who is in which team. The "
    "report joins them by **team and week**, never by person, leaves out teams under five people, "
    "and says what the data cannot show without a rollout or a pilot.")
st.caption("Privacy: the files are read in a temporary folder that is deleted when the report is "
           "ready; nothing you upload is stored by the app. The report holds team-week aggregates "
           "only. The same report from a shell: `theater audit FILES --roster roster.csv --html "
           "audit.html` (or `--pdf audit.pdf`; docs/exports.md).")

with st.form("audit"):
    files = st.file_uploader("Usage exports and delivery files", accept_multiple_files=True,
                             type=["ndjson", "jsonl", "json", "csv", "gz"])
    roster_file = st.file_uploader("Roster (CSV: team, and user / login / email)", type=["csv"])
    title = st.text_input("Report title", value="AI usage beside delivered work")
    run = st.form_submit_button("Build the report", type="primary", icon=":material/analytics:")

if run:
    if not files:
        st.error("Choose at least one usage export first.", icon=":material/error:")
        st.stop()
    from course.audit import audit_html, build_audit
    from course.audit_command import split_inputs
    from datasets.importers import read_exports
    from datasets.outcomes import read_outcomes, read_roster

    try:
        with tempfile.TemporaryDirectory(prefix="theater-audit-") as tmp:
            folder = Path(tmp)
            for upload in files:
                (folder / Path(upload.name).name).write_bytes(upload.getvalue())
            roster = None
            if roster_file is not None:
                roster_path = folder / "roster" / "roster.csv"
                roster_path.parent.mkdir()
                roster_path.write_bytes(roster_file.getvalue())
                roster = read_roster(roster_path)
            usage_files, outcome_files, skipped = split_inputs([folder])
            if not usage_files:
                raise UserError("none of the files is an AI-usage export `theater import` reads")
            audit = build_audit(read_exports(usage_files), read_outcomes(outcome_files), roster)
            page = audit_html(audit, title or "AI usage beside delivered work")
    except UserError as error:
        st.error(" ".join(str(error).split()).replace(str(folder) + "/", ""), icon=":material/error:")
        st.stop()
    st.session_state["_audit_report"] = (audit, page, [line.replace(str(folder) + "/", "") for line in skipped])
    st.session_state.pop("_audit_pdf", None)     # a PDF of the previous report is not this one's

if "_audit_report" in st.session_state:
    audit, page, skipped = st.session_state["_audit_report"]
    from course.audit import weekly_chart

    st.subheader("What the data shows")
    for line in audit.findings:
        st.markdown(f"- {line}")
    if len(audit.weekly):
        st.altair_chart(weekly_chart(audit.weekly), width="stretch")
        st.caption("AI interactions and delivered work per whole week, each as an index of its "
                   "first four weeks (= 100), over the teams shown.")
    st.subheader("Where the usual numbers mislead")
    for line in audit.cautions:
        st.markdown(f"- {line}")
    st.subheader("What would show the effect")
    for line in audit.design:
        st.markdown(f"- {line}")
    st.subheader("What was left out, and why")
    for line in audit.dropped + skipped or ["Nothing."]:
        st.markdown(f"- {line}")
    with st.expander("Team-week table"):
        st.dataframe(audit.weekly, hide_index=True, width="stretch")
    st.download_button("Download the report (self-contained HTML)", data=page, file_name="audit.html",
                       mime="text/html", icon=":material/download:")
    from course.pdf import chromium, html_to_pdf

    if chromium() is None:
        st.caption("A PDF of the report needs Chromium on this server (`make system-deps` installs it); "
                   "the HTML report prints to PDF from any browser.")
    elif "_audit_pdf" in st.session_state:
        st.download_button("Download the report (PDF)", data=st.session_state["_audit_pdf"],
                           file_name="audit.pdf", mime="application/pdf", icon=":material/picture_as_pdf:",
                           on_click="ignore")
    elif st.button("Make a PDF of the report", icon=":material/picture_as_pdf:"):
        with st.spinner("Printing the report…"):
            try:
                st.session_state["_audit_pdf"] = html_to_pdf(page)
            except UserError as error:
                st.error(str(error), icon=":material/error:")
            else:
                st.rerun()
    from course.audit_room import room_file_json

    try:
        room_text = room_file_json(audit)
    except UserError as error:
        st.caption(f"No room file for a workshop: {error}")
    else:
        st.download_button(
            "Download the room file for a workshop (JSON)", data=room_text,
            file_name="audit-room.json", mime="application/json",
            icon=":material/groups:", on_click="ignore",
            help="The team-week aggregates above (no person, no team under five), the "
                 "period and the findings: create a live workshop on it under Run a "
                 "live workshop, so the room's board question is about your own data.")

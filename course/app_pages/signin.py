"""Sign-in: learners (with their access code when the course has a roster, or with their identity
provider when OIDC is configured) and staff accounts."""

import streamlit as st

from course import auth
from course import data as course_data
from course.app_pages import common
from datasets.errors import UserError

config = common.get_config()
learner = common.learner_id()


def _oidc() -> auth.OidcProvider | None:
    """The identity provider of .streamlit/secrets.toml [auth], or None when it is not configured."""
    try:
        section = st.secrets.get("auth") if st.secrets.load_if_toml_exists() else None
    except (FileNotFoundError, KeyError, TypeError, ValueError):  # a secrets.toml Streamlit cannot read
        section = None
    return auth.oidc_provider(section, config.oidc)


def _start_learner_session(learner_id: str) -> None:
    common.get_company(learner_id)
    common.get_store().ensure_learner(learner_id)
    common.start_learner_session(learner_id)
    st.session_state[common.GO_HOME_KEY] = True
    st.rerun()


provider = _oidc()
oidc_refusal = None
if not learner and provider is not None and st.user.get("is_logged_in") is True:
    try:
        oidc_learner = auth.learner_for_identity(st.user, auth.roster_entries(config.course), config.oidc,
                                                 max_age_seconds=config.session_hours * 3600.0)
        _start_learner_session(oidc_learner)
    except UserError as error:
        oidc_refusal = str(error)

st.title("Signal or Theater")
st.markdown("Learn to tell AI use that **improves outcomes** from AI use that only **documents "
            "activity** — on the logs of your own synthetic company.")


def _zip_maker(fmt: str, learner: str):
    def make() -> bytes:
        return course_data.company_zip(config, learner, common.get_company(learner), fmt)
    return make


if learner:
    st.subheader(f"Signed in as {learner}")
    try:
        company = common.get_company(learner)
    except UserError as error:
        st.error(str(error))
        st.stop()
    sizes = course_data.company_size(company)
    nouns = {"employees": "employees", "ai_events": "AI events", "work_items": "work items",
             "calendar": "calendar entries", "survey": "survey answers"}
    st.markdown(
        "Your company: " + ", ".join(f"**{n:,}** {nouns.get(name, name)}"
                                     for name, n in sizes.items())
        + ". The files hold no labels: who is genuine and who performs stays hidden, as it "
          "would at work.")
    left, right = st.columns(2)
    left.download_button("Download CSV files (zip)", data=_zip_maker("csv", learner),
                         file_name=f"company-{learner}-csv.zip", mime="application/zip",
                         icon=":material/download:", key="download_csv")
    right.download_button("Download Parquet files (zip)", data=_zip_maker("parquet", learner),
                          file_name=f"company-{learner}-parquet.zip", mime="application/zip",
                          icon=":material/download:", key="download_parquet")
    home = common.page_for("home")
    if home is not None:
        st.page_link(home, label="Go to the course", icon=":material/arrow_forward:")
    st.stop()

rostered = course_data.has_roster(config)
learner_tab, staff_tab = st.tabs(["Learner", "Instructor or trainer"])
with learner_tab:
    if provider is not None:
        if oidc_refusal:
            st.error(oidc_refusal, icon=":material/person_off:")
            if st.button("Sign out of the identity provider", key="oidc_sign_out"):
                st.logout()
        else:
            if st.button(provider.label, type="primary", icon=":material/login:", key="oidc_sign_in"):
                st.login(provider.login_name)
            st.caption("Use the account your school or company gave you: the app finds you on the "
                       "class list by it. No such account? Sign in with your learner id below.")
    with st.form("learner_sign_in"):
        raw_id = st.text_input("Learner id", placeholder="e.g. ada.lovelace",
                               help="The id your instructor or trainer gave you. Your company's "
                                    "data is generated from it, so keep using the same one.")
        access_code = (st.text_input("Access code", type="password", placeholder="XXXX-XXXX-XXXX",
                                     help="Your personal code from your instructor: it proves "
                                          "the id is yours.") if rostered else None)
        code = (st.text_input("Course code", type="password") if config.course_code else None)
        submitted = st.form_submit_button("Sign in", type="primary")
    if rostered:
        st.caption("This course has a class list: sign in with your id and the personal access "
                   "code your instructor gave you.")
    else:
        st.caption("On your first sign-in the app generates your own company's logs (a few "
                   "seconds). The same id always gives the same company, so your work carries over.")
    if submitted:
        try:
            learner_id = course_data.sign_in_learner(config, raw_id, access_code, code,
                                                     common.client_address(),
                                                     sessions=common.get_sessions())
            _start_learner_session(learner_id)
        except UserError as error:
            st.error(str(error), icon=":material/error:")

with staff_tab:
    with st.form("staff_sign_in"):
        name = st.text_input("Staff account")
        password = st.text_input("Password", type="password")
        staff_submitted = st.form_submit_button("Sign in as staff")
    st.caption("Staff accounts are created by whoever runs the app: "
               "`theater users add NAME --role instructor` (or `trainer`).")
    if staff_submitted:
        outcome = auth.sign_in(st.session_state, name, password, common.staff_accounts(),
                               common.client_address(), sessions=common.get_sessions())
        if outcome.ok:
            st.session_state[common.GO_HOME_KEY] = True
            st.rerun()
        else:
            st.error(outcome.message, icon=":material/lock:")

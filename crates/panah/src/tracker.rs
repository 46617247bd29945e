//! `panah needs`, `panah cases`, `panah summary`, `panah sync`: the encrypted needs and
//! case tracker (`panah_client::records`) on the command line, in the coordinator's
//! language.
//!
//! Changes are made in the local cache (encrypted to the coordinator's key) and sent at
//! once unless `--offline`; if the hub cannot be reached they wait for the next `panah
//! sync`. Lists, `show` and `summary` read the cache only, so they work without a network.
//!
//! Panah tracks lawful and humanitarian routes only; it is not for arranging irregular
//! border crossings, and nothing here records routes or smugglers.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use panah_client::files::write_private;
use panah_client::records::{self, Cache, Stage as SyncStage, SyncOptions};
use panah_client::terminal::{sanitize, sanitize_line};
use panah_client::Session;
use panah_core::ledger::entry::Identifying;
use panah_core::ledger::money::{Amount, Currency};
use panah_core::records::doc::{
    self as doc, Action, Case, Kind, Money, Need, NeedStatus, Note, Stage, Urgency,
};
use panah_core::records::{Day, Doc, RecordId, Summary};
use panah_core::{Lang, Timestamp};
use panah_i18n::{Catalog, Localizer};
use panah_keyring::Keyring;

use crate::client::HubArgs;

/// What every tracker command takes: the hub, collective and keyring, the language, and
/// whether to stay off the network.
#[derive(Args, Debug)]
pub struct TrackerArgs {
    #[command(flatten)]
    pub hub: HubArgs,
    /// The language of what is printed: fa (Dari), ps (Pashto) or en [default: from LANG].
    #[arg(long, env = "PANAH_LANG", global = true)]
    pub lang: Option<String>,
    /// Change the cache on this device only; send at the next `panah sync`.
    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Args, Debug)]
pub struct NeedsArgs {
    #[command(flatten)]
    pub common: TrackerArgs,
    #[command(subcommand)]
    pub command: NeedsCommand,
}

#[derive(Args, Debug)]
pub struct CasesArgs {
    #[command(flatten)]
    pub common: TrackerArgs,
    #[command(subcommand)]
    pub command: CasesCommand,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub common: TrackerArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: TrackerArgs,
    /// Delete closed needs and cases this many days after closing (0: now). Remembered on
    /// this device for later syncs.
    /// [default: what this device was last told, else 180]
    #[arg(long, value_name = "DAYS")]
    pub keep_closed_days: Option<i64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Keep {
    /// Your version.
    Mine,
    /// The other coordinator's.
    Theirs,
    /// Both, field by field (refused when both changed the same field).
    Merged,
}

/// A need's fields as flags (for `add` and `update`).
#[derive(Args, Debug, Default)]
pub struct NeedFields {
    /// Who it is for: the pseudonym the collective chose (never a real name).
    #[arg(long = "for", value_name = "PSEUDONYM")]
    pub pseudonym: Option<String>,
    /// food, power, shelter, medical, documents, relocation, communications or other.
    #[arg(long)]
    pub category: Option<String>,
    /// urgent, soon or routine.
    #[arg(long)]
    pub urgency: Option<String>,
    /// open, funded, delivered, closed or declined.
    #[arg(long)]
    pub status: Option<String>,
    /// The amount asked, like 4500 or 1250.50, in --currency.
    #[arg(long)]
    pub asked: Option<String>,
    /// The amount funded so far.
    #[arg(long)]
    pub funded: Option<String>,
    /// ISO 4217 code of the amounts [default: AFN].
    #[arg(long)]
    pub currency: Option<String>,
    /// Free notes (`-` reads them from standard input, which keeps them out of the shell's
    /// history).
    #[arg(long)]
    pub notes: Option<String>,
    /// A ledger entry (by number) that paid for it; repeat for more.
    #[arg(long = "ledger", value_name = "N")]
    pub ledger: Vec<u64>,
    /// Save text that looks like it identifies a person (a number, a name) anyway.
    #[arg(long)]
    pub anyway: bool,
}

/// A case's fields as flags.
#[derive(Args, Debug, Default)]
pub struct CaseFields {
    /// Whose path it is: the pseudonym the collective chose (never a real name).
    #[arg(long = "for", value_name = "PSEUDONYM")]
    pub pseudonym: Option<String>,
    /// registered, assessed, documents, lodged, interview, decision, travel, arrived,
    /// closed, paused or withdrawn.
    #[arg(long)]
    pub stage: Option<String>,
    /// The lawful route: humanitarian visa, resettlement referral, family reunion, study,
    /// work, private sponsorship, or your own words.
    #[arg(long)]
    pub pathway: Option<String>,
    /// The next thing to do.
    #[arg(long = "next", value_name = "TEXT")]
    pub next_action: Option<String>,
    /// When the next thing is due: YYYY-MM-DD in any digits, Gregorian (2026-12-01) or
    /// Solar Hijri (1405-09-10); `none` to clear it.
    #[arg(long)]
    pub due: Option<String>,
    /// Add a dated note to the case's history (`-` reads it from standard input, which
    /// keeps it out of the shell's history).
    #[arg(long)]
    pub note: Option<String>,
    /// Link a need (by the first digits of its id); repeat for more.
    #[arg(long = "need", value_name = "REF")]
    pub needs: Vec<String>,
    /// Save text that looks like it identifies a person (a number, a name) anyway.
    #[arg(long)]
    pub anyway: bool,
}

#[derive(Subcommand, Debug)]
pub enum NeedsCommand {
    /// Add a need: what a member needs, for whom (by pseudonym), how urgent, how much.
    Add(NeedFields),
    /// List needs, most urgent first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        urgency: Option<String>,
        /// Include delivered, closed and declined needs.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one need (by the first digits of its id).
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a need's fields.
    Update {
        reference: String,
        #[command(flatten)]
        fields: NeedFields,
    },
    /// Close a need (it is deleted everywhere some time after closing).
    Close {
        reference: String,
        /// It was declined rather than met.
        #[arg(long)]
        declined: bool,
    },
    /// Delete a need now, from the hub and from every coordinator's device.
    Delete {
        reference: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
    /// Choose between your version and another coordinator's after a conflict.
    Resolve {
        reference: String,
        #[arg(long, value_enum)]
        keep: Keep,
    },
    /// Write one need as an age file encrypted to your own key (`rage -d` opens it).
    Export {
        reference: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum CasesCommand {
    /// Open a case: a member's path to safety through lawful and humanitarian routes
    /// (never irregular crossings: record no routes or smugglers).
    Add(CaseFields),
    /// List cases, soonest due first.
    List {
        #[arg(long)]
        stage: Option<String>,
        /// Only cases due on or before this day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        due_before: Option<String>,
        /// Only cases whose next step is overdue.
        #[arg(long)]
        overdue: bool,
        /// Include closed and withdrawn cases.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one case with its history.
    Show {
        reference: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a case: its stage, next step, due date; add a note; link needs.
    Update {
        reference: String,
        #[command(flatten)]
        fields: CaseFields,
    },
    /// Close a case (it is deleted everywhere some time after closing).
    Close {
        reference: String,
        /// The member withdrew rather than the case being finished.
        #[arg(long)]
        withdrawn: bool,
    },
    /// Delete a case now, from the hub and from every coordinator's device.
    Delete {
        reference: String,
        /// Do not ask first.
        #[arg(long)]
        yes: bool,
    },
    /// Choose between your version and another coordinator's after a conflict.
    Resolve {
        reference: String,
        #[arg(long, value_enum)]
        keep: Keep,
    },
    /// Write one case as an age file encrypted to your own key (`rage -d` opens it).
    Export {
        reference: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Who created, changed, closed or deleted which record, and when (coordinators only).
    Audit {
        #[arg(long)]
        json: bool,
    },
}

/// The words of the tracker in the coordinator's language.
pub struct Words {
    catalog: std::sync::Arc<Catalog>,
    pub lang: Lang,
}

impl Words {
    pub fn new(lang: Option<&str>) -> anyhow::Result<Words> {
        let lang = match lang {
            Some(code) => Lang::from_code(code.trim())
                .map_err(|_| anyhow::anyhow!("--lang is fa (Dari), ps (Pashto) or en"))?,
            None => from_environment(),
        };
        Ok(Words {
            catalog: std::sync::Arc::new(Catalog::load().context("the translations do not load")?),
            lang,
        })
    }

    /// The same catalogue in another language (the desk changes language per page).
    pub fn in_lang(&self, lang: Lang) -> Words {
        Words {
            catalog: self.catalog.clone(),
            lang,
        }
    }

    pub fn l(&self) -> Localizer<'_> {
        self.catalog.localizer(self.lang)
    }

    pub fn t(&self, id: &str) -> String {
        self.l().t(id)
    }

    pub fn f(&self, id: &str, args: &[(&str, &str)]) -> String {
        self.catalog.format(self.lang, id, args)
    }

    pub(crate) fn n(&self, n: usize) -> String {
        self.l().integer(i64::try_from(n).unwrap_or(i64::MAX))
    }

    pub(crate) fn day(&self, d: Day) -> String {
        self.l().date(Timestamp::from_date(d.0))
    }

    pub(crate) fn money(&self, minor: i64, currency: &str) -> String {
        match Currency::parse(currency) {
            Ok(c) => self.l().money(minor, c),
            Err(_) => format!("{minor} {}", sanitize_line(currency)),
        }
    }

    /// Text a teammate wrote, shown safely and, in a right-to-left sentence, kept in its
    /// own direction.
    pub(crate) fn text(&self, s: &str) -> String {
        self.rtl_isolate(sanitize(s))
    }

    pub(crate) fn line(&self, s: &str) -> String {
        self.rtl_isolate(sanitize_line(s))
    }

    /// A pathway: the usual ones in the reader's words, others as written.
    pub(crate) fn pathway(&self, p: &str) -> String {
        if doc::PATHWAYS.contains(&p) {
            self.t(&format!("cli-pathway-{}", p.replace(' ', "-")))
        } else {
            self.line(p)
        }
    }

    fn rtl_isolate(&self, s: String) -> String {
        if self.lang.is_rtl() {
            self.l().isolate(&s)
        } else {
            s
        }
    }

    /// A record's reference: never isolated, so that copying it copies no invisible mark.
    pub(crate) fn reference(&self, id: &RecordId) -> String {
        id.short()
    }

    /// What starts a line of a list: in right-to-left languages a right-to-left mark, so a
    /// line that begins with a Latin reference still reads from the right.
    fn start(&self) -> &'static str {
        if self.lang.is_rtl() {
            "\u{200F}"
        } else {
            ""
        }
    }

    /// The value whose word is `typed`, in English or as the catalogue says it
    /// (`{prefix}-{id(word)}`) in any of the three languages, in any case.
    pub(crate) fn find_choice<T: Copy>(
        &self,
        prefix: &str,
        all: &[(T, &'static str)],
        typed: &str,
        id: impl Fn(&str) -> String,
    ) -> Option<T> {
        // Arabic-keyboard yeh and kaf are the same letters to a reader.
        let norm = |t: &str| {
            clean_input(t)
                .trim()
                .to_lowercase()
                .replace('\u{064A}', "\u{06CC}")
                .replace('\u{0643}', "\u{06A9}")
        };
        let typed_n = norm(typed);
        all.iter()
            .find(|(_, w)| {
                norm(w) == typed_n
                    || Lang::ALL.iter().any(|l| {
                        norm(&self.catalog.format(*l, &format!("{prefix}-{}", id(w)), &[]))
                            == typed_n
                    })
            })
            .map(|(v, _)| *v)
    }

    /// One of `words`, typed in English or as the catalogue says it (`{prefix}-{word}`) in
    /// any of the three languages, in any case.
    pub(crate) fn choice<T: Copy>(
        &self,
        what: &str,
        prefix: &str,
        all: &[(T, &'static str)],
        typed: &str,
    ) -> anyhow::Result<T> {
        if let Some(v) = self.find_choice(prefix, all, typed, str::to_owned) {
            return Ok(v);
        }
        let list: Vec<String> = all
            .iter()
            .map(|(_, w)| {
                let local = self.t(&format!("{prefix}-{w}"));
                if local == *w {
                    (*w).to_owned()
                } else {
                    format!("{w} ({local})")
                }
            })
            .collect();
        bail!(
            "{}",
            self.f(
                "cli-error-choice",
                &[
                    (
                        "got",
                        &sanitize_line(&typed.chars().take(30).collect::<String>())
                    ),
                    ("what", &self.t(&format!("cli-what-{what}"))),
                    ("list", &list.join(self.l().sep())),
                ]
            )
        )
    }

    /// A day typed as YYYY-MM-DD in any digits: Gregorian, or Solar Hijri for years
    /// 1300–1499 (what a Dari or Pashto reader sees everywhere else).
    pub(crate) fn parse_day(&self, typed: &str) -> anyhow::Result<Day> {
        let latin = panah_core::digits::to_latin(clean_input(typed).trim());
        let parts: Vec<&str> = latin.split(['-', '/']).collect();
        let nums: Option<Vec<i32>> = parts.iter().map(|p| p.parse().ok()).collect();
        let four_digit_year = parts.first().is_some_and(|y| y.len() == 4);
        let day = match nums.as_deref() {
            _ if !four_digit_year => None,
            Some(&[y, m, d]) if (1300..1500).contains(&y) => u8::try_from(m)
                .ok()
                .zip(u8::try_from(d).ok())
                .and_then(|(m, d)| panah_i18n::from_solar_hijri(y, m, d))
                .and_then(|(y, m, d)| {
                    time::Month::try_from(m)
                        .ok()
                        .and_then(|m| time::Date::from_calendar_date(y, m, d).ok())
                })
                .map(Day),
            Some(&[y, m, d]) if (1900..2200).contains(&y) => {
                time::Month::try_from(u8::try_from(m).unwrap_or(0))
                    .ok()
                    .and_then(|m| {
                        time::Date::from_calendar_date(y, m, u8::try_from(d).unwrap_or(0)).ok()
                    })
                    .map(Day)
            }
            _ => None,
        };
        day.with_context(|| {
            self.f(
                "cli-error-date",
                &[(
                    "got",
                    &sanitize_line(&typed.chars().take(30).collect::<String>()),
                )],
            )
        })
    }

    /// A coordinator as people know them: their label on the team, then the fingerprint.
    pub(crate) fn who(
        &self,
        fp: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> String {
        // In a right-to-left sentence the whole name and the fingerprint inside it keep
        // their own direction, so the parentheses do not come apart.
        let label = labels.get(fp).filter(|l| !l.is_empty());
        let fp = self.rtl_isolate(sanitize_line(fp));
        match label {
            Some(label) => self.rtl_isolate(format!("{} ({fp})", self.line(label))),
            None => fp,
        }
    }
}

/// Text as typed or pasted: direction marks and isolates (which a right-to-left line
/// copies along) taken out.
pub(crate) fn clean_input(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(
                c,
                '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
            )
        })
        .collect()
}

/// A text option's value: `-` reads it from standard input (so it stays out of the shell's
/// history and the process list), anything else is taken as typed.
fn text_arg(value: &Option<String>) -> anyhow::Result<Option<String>> {
    match value.as_deref() {
        Some("-") => {
            use std::io::Read;
            let mut s = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut s)
                .context("cannot read the text from standard input")?;
            Ok(Some(clean_input(s.trim_end())))
        }
        Some(v) => Ok(Some(clean_input(v))),
        None => Ok(None),
    }
}

/// The language from `LANG`/`LC_ALL`: fa… or prs… is Dari, ps… Pashto, else English.
fn from_environment() -> Lang {
    let env = std::env::var("LC_ALL")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("LANG").ok())
        .unwrap_or_default();
    let code = env.split(['_', '.', '-']).next().unwrap_or_default();
    match code {
        "fa" | "prs" => Lang::Dari,
        "ps" => Lang::Pashto,
        _ => Lang::English,
    }
}

/// Everything a tracker command works with.
struct Desk {
    words: Words,
    keyring: Keyring,
    cache: Cache,
    path: PathBuf,
    hub: HubArgs,
    offline: bool,
    today: Day,
}

impl Desk {
    fn open(common: &TrackerArgs) -> anyhow::Result<Desk> {
        let words = Words::new(common.lang.as_deref())?;
        let (base, collective, keyring_args) = common.hub.resolve()?;
        let keyring = keyring_args.unlock()?;
        let path = records::cache_path(
            &records::cache_dir()?,
            &base,
            collective.as_str(),
            &keyring.public().fingerprint().to_string(),
        );
        let cache = Cache::load(&path, &keyring)?;
        Ok(Desk {
            words,
            keyring,
            cache,
            path,
            hub: common.hub.clone(),
            offline: common.offline,
            today: Day::today(),
        })
    }

    fn save(&self) -> anyhow::Result<()> {
        self.cache.save(&self.path, &self.keyring)?;
        Ok(())
    }

    /// A record's content changed from `before` to `after`: nothing happens if it did not
    /// really change; otherwise the change is saved and sent.
    async fn replace(&mut self, id: RecordId, before: Doc, after: Doc) -> anyhow::Result<()> {
        if before == after {
            println!("{}", self.words.t("cli-nothing-changed"));
            return Ok(());
        }
        self.cache.update(&id, after)?;
        self.changed(id).await
    }

    /// After a change: saved here, then sent unless offline (a failure leaves it waiting).
    async fn changed(&mut self, id: RecordId) -> anyhow::Result<()> {
        self.save_and_send(id, true).await
    }

    /// [`Desk::changed`] when a message was already said.
    async fn changed_quietly(&mut self, id: RecordId) -> anyhow::Result<()> {
        self.save_and_send(id, false).await
    }

    async fn save_and_send(&mut self, id: RecordId, announce: bool) -> anyhow::Result<()> {
        self.save()?;
        let deleting = self.cache.pending.get(&id).is_some_and(|p| p.doc.is_none());
        if announce && !deleting {
            println!(
                "{}",
                self.words
                    .f("cli-saved", &[("ref", &self.words.reference(&id))])
            );
        }
        if self.offline {
            return Ok(());
        }
        eprintln!("{}", self.words.t("cli-sending"));
        let keep = self
            .cache
            .keep_closed_days
            .unwrap_or(records::DEFAULT_KEEP_CLOSED_DAYS);
        if let Err(e) = self.sync(keep).await {
            let why = match e.downcast_ref::<panah_client::ClientError>() {
                Some(panah_client::ClientError::Unreachable { .. }) => {
                    self.words.t("cli-error-offline")
                }
                _ => sanitize(&format!("{e:#}")),
            };
            eprintln!("{}", self.words.f("cli-saved-offline", &[("why", &why)]));
        }
        Ok(())
    }

    async fn sync(&mut self, keep_closed_days: i64) -> anyhow::Result<()> {
        let session = self.hub.login_with(&self.keyring).await?;
        let result = self.sync_with(&session, keep_closed_days).await;
        session.logout().await;
        result
    }

    async fn sync_with(&mut self, session: &Session, keep_closed_days: i64) -> anyhow::Result<()> {
        let team = crate::team::verified_in(session, &self.keyring, &self.words).await?;
        let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let words = &self.words;
        let path = self.path.clone();
        let keyring = &self.keyring;
        let synced = records::sync(
            session,
            keyring,
            &team,
            &mut self.cache,
            SyncOptions {
                keep_closed_days,
                today: self.today,
            },
            |cache| cache.save(&path, keyring),
            |stage| {
                if !interactive {
                    return;
                }
                let line = match stage {
                    SyncStage::Pulling { received } => {
                        words.f("cli-sync-pulling", &[("count", &words.n(received))])
                    }
                    SyncStage::Rewrapping { done, total } => words.f(
                        "cli-sync-rewrapping",
                        &[("done", &words.n(done)), ("total", &words.n(total))],
                    ),
                    SyncStage::Pushing { done, total } => words.f(
                        "cli-sync-pushing",
                        &[("done", &words.n(done)), ("total", &words.n(total))],
                    ),
                };
                eprint!("\r\x1b[2K{line}");
            },
        )
        .await;
        if interactive {
            eprintln!();
        }
        let synced = synced?;
        let (said, problems) = sync_report(&self.words, &synced, &self.cache, keep_closed_days);
        for line in said {
            println!("{line}");
        }
        for line in problems {
            eprintln!("{line}");
        }
        let w = &self.words;
        if reencrypt_needed(&team, &self.cache) {
            println!("{}", w.t("cli-sync-inbox"));
            let r = reencrypt_inbox(session, &self.keyring, &team, &mut self.cache).await?;
            println!("{}", reencrypted_line(w, &r));
            self.save()?;
        }
        Ok(())
    }

    /// The need or case a reference names, with the reason in the reader's words if none.
    fn find(&self, reference: &str, kind: Kind) -> anyhow::Result<RecordId> {
        find(&self.cache, &self.words, reference, kind)
    }

    fn need(&self, id: &RecordId) -> anyhow::Result<Need> {
        match self.cache.current(id) {
            Some(Doc::Need(n)) => Ok(n.clone()),
            _ => bail!(
                "{}",
                self.words.f("cli-error-no-need", &[("got", &id.short())])
            ),
        }
    }

    fn case(&self, id: &RecordId) -> anyhow::Result<Case> {
        match self.cache.current(id) {
            Some(Doc::Case(c)) => Ok(c.clone()),
            _ => bail!(
                "{}",
                self.words.f("cli-error-no-case", &[("got", &id.short())])
            ),
        }
    }

    /// Refuses text that looks like it identifies a person, unless `anyway`.
    fn check_texts(&self, texts: &[(&'static str, &str)], anyway: bool) -> anyhow::Result<()> {
        let found = identifying(&self.words, texts);
        if found.is_empty() {
            return Ok(());
        }
        for f in &found {
            eprintln!("{f}");
        }
        if anyway {
            return Ok(());
        }
        bail!("{}", self.words.t("cli-warn-refused"))
    }

    fn conflict_note(&self, id: &RecordId) {
        if let Some(c) = self.cache.conflicts.get(id) {
            let w = &self.words;
            println!();
            println!("{}", w.t("cli-conflict-theirs"));
            match self.cache.records.get(id) {
                Some(h) => print_doc(w, &h.doc, self.today, &self.cache.labels),
                None => println!("  {}", w.t("cli-conflict-deleted")),
            }
            println!();
            println!("{}", w.t("cli-conflict-mine"));
            match &c.mine {
                Some(d) => print_doc(w, d, self.today, &self.cache.labels),
                None => println!("  {}", w.t("cli-conflict-deleted")),
            }
            println!();
            println!(
                "{}",
                w.f(
                    "cli-conflict-choose",
                    &[
                        ("ref", &id.short()),
                        (
                            "kind",
                            self.cache
                                .conflicts
                                .get(id)
                                .and_then(|c| c.mine.as_ref())
                                .or(self.cache.current(id))
                                .and_then(Doc::kind)
                                .map_or("need", Kind::word)
                        )
                    ]
                )
            );
        }
    }

    fn status_line(&self) {
        let w = &self.words;
        match self.cache.last_sync {
            Some(t) => println!("{}", w.f("cli-last-sync", &[("date", &w.l().date(t))])),
            None => println!("{}", w.t("cli-never-synced")),
        }
        if !self.cache.pending.is_empty() {
            println!(
                "{}",
                w.f("cli-pending", &[("count", &w.n(self.cache.pending.len()))])
            );
        }
        if !self.cache.conflicts.is_empty() {
            println!(
                "{}",
                w.f(
                    "cli-conflicts-waiting",
                    &[("count", &w.n(self.cache.conflicts.len()))]
                )
            );
        }
    }
}

/// The need or case a reference names in `cache`, with the reason in the reader's words
/// if none.
pub(crate) fn find(
    cache: &Cache,
    w: &Words,
    reference: &str,
    kind: Kind,
) -> anyhow::Result<RecordId> {
    use panah_client::records::FindError;
    cache.find(reference, Some(kind)).map_err(|e| {
        let msg = match e {
            FindError::NotAReference(got) => {
                w.f("cli-error-reference", &[("got", &sanitize_line(&got))])
            }
            FindError::NotFound(got) => w.f(
                &format!("cli-error-no-{}", kind.word()),
                &[("got", &sanitize_line(&got))],
            ),
            FindError::Ambiguous(got) => {
                w.f("cli-error-ambiguous", &[("got", &sanitize_line(&got))])
            }
            FindError::Deleted(got) => w.f("cli-error-deleted", &[("got", &sanitize_line(&got))]),
        };
        anyhow::anyhow!(msg)
    })
}

/// Each warning that a text looks like it identifies a person, in the reader's words.
pub(crate) fn identifying(w: &Words, texts: &[(&'static str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (field, text) in texts {
        for why in doc::warnings(text) {
            if *field == "pathway" && why == Identifying::Name {
                continue; // "Humanitarian Visa" is a pathway, not a name
            }
            found.push(w.f(
                "cli-warn-identifying",
                &[
                    ("field", &w.t(&format!("cli-field-{}", field_id(field)))),
                    ("why", &w.t(why_id(why))),
                ],
            ));
        }
    }
    found
}

/// What a sync did, in the reader's words: what to say, and what went wrong.
pub(crate) fn sync_report(
    w: &Words,
    synced: &records::Synced,
    cache: &Cache,
    keep_closed_days: i64,
) -> (Vec<String>, Vec<String>) {
    let mut said = vec![w.f(
        "cli-sync-done",
        &[
            ("received", &w.n(synced.received)),
            ("sent", &w.n(synced.sent)),
            ("dropped", &w.n(synced.dropped)),
        ],
    )];
    let mut problems = Vec::new();
    if synced.rewrapped > 0 {
        said.push(w.f("cli-sync-rewrapped", &[("count", &w.n(synced.rewrapped))]));
    }
    if synced.expired > 0 {
        said.push(w.f(
            "cli-sync-expired",
            &[
                ("count", &w.n(synced.expired)),
                ("days", &w.n(keep_closed_days.max(0) as usize)),
            ],
        ));
    }
    for id in &synced.conflicts {
        let kind = cache
            .conflicts
            .get(id)
            .and_then(|c| c.mine.as_ref())
            .or(cache.records.get(id).map(|h| &h.doc))
            .and_then(Doc::kind)
            .map_or("need", Kind::word);
        said.push(w.f("cli-sync-conflict", &[("ref", &id.short()), ("kind", kind)]));
    }
    for (id, why) in &synced.refused {
        problems.push(w.f(
            "cli-sync-refused",
            &[("ref", &sanitize_line(id)), ("why", &sanitize(why))],
        ));
    }
    for id in &synced.set_aside {
        let message = if cache.records.contains_key(id) {
            "cli-sync-set-aside"
        } else {
            "cli-sync-set-aside-new"
        };
        said.push(w.f(message, &[("ref", &id.short())]));
    }
    if synced.unreadable > 0 {
        said.push(w.f("cli-sync-unreadable", &[("count", &w.n(synced.unreadable))]));
    }
    (said, problems)
}

/// Whether a coordinator was removed since the inbox was last encrypted anew: then the
/// contact drop's conversations are encrypted anew by the same pass (resumable through its
/// own progress file).
pub(crate) fn reencrypt_needed(team: &panah_client::team::VerifiedTeam, cache: &Cache) -> bool {
    team.team
        .entries
        .iter()
        .rev()
        .find(|e| matches!(e.body.change, panah_core::team::Change::Remove { .. }))
        .map(|e| e.body.index + 1)
        .is_some_and(|r| r > cache.inbox_reencrypted_at)
}

/// Encrypts the inbox anew to `team` and notes it in the cache (which the caller saves).
pub(crate) async fn reencrypt_inbox(
    session: &Session,
    keyring: &Keyring,
    team: &panah_client::team::VerifiedTeam,
    cache: &mut Cache,
) -> anyhow::Result<panah_client::inbox::Reencrypted> {
    let r = crate::inbox::reencrypt_all(session, keyring, team).await?;
    cache.inbox_reencrypted_at = team.team.tree.size();
    Ok(r)
}

pub(crate) fn reencrypted_line(w: &Words, r: &panah_client::inbox::Reencrypted) -> String {
    w.f(
        "cli-sync-inbox-done",
        &[
            ("done", &w.n(r.done)),
            ("earlier", &w.n(r.earlier)),
            ("gone", &w.n(r.gone)),
        ],
    )
}

/// The audit trail in the reader's words, one line per event (or one saying it is empty).
pub(crate) fn audit_lines(w: &Words, cache: &Cache) -> Vec<String> {
    let trail = cache.audit_trail();
    if trail.is_empty() {
        return vec![w.t("cli-audit-empty")];
    }
    trail
        .iter()
        .map(|e| {
            w.f(
                "cli-audit-line",
                &[
                    ("date", &w.l().date(e.at)),
                    ("who", &w.who(&e.by, &cache.labels)),
                    ("action", &word(w, "action", e.action.word())),
                    ("kind", &w.t(&format!("cli-kind-{}", e.kind.word()))),
                    ("ref", &w.reference(&e.record)),
                    ("version", &w.n(e.version as usize)),
                ],
            )
        })
        .collect()
}

/// The summary in the reader's words: titled groups of lines (open needs, money, cases by
/// stage, overdue, due this week, totals), each group saying "none" when empty.
pub(crate) fn summary_groups(w: &Words, s: &Summary) -> Vec<(String, Vec<String>)> {
    let none = |v: Vec<String>| {
        if v.is_empty() {
            vec![w.t("cli-summary-none")]
        } else {
            v
        }
    };
    let mut groups = Vec::new();
    groups.push((
        w.t("cli-summary-open-needs"),
        none(
            s.open_needs
                .iter()
                .map(|((c, u), n)| {
                    format!(
                        "{}{}{}: {}",
                        category_word(w, *c),
                        w.l().sep(),
                        word(w, "urgency", u.word()),
                        w.n(*n as usize)
                    )
                })
                .collect(),
        ),
    ));
    groups.push((
        w.t("cli-summary-money"),
        none(
            s.money
                .iter()
                .map(|(c, (asked, funded))| {
                    w.f(
                        "cli-summary-money-line",
                        &[
                            ("currency", &sanitize_line(c)),
                            ("asked", &w.money(*asked, c)),
                            ("funded", &w.money(*funded, c)),
                            ("left", &w.money((asked - funded).max(0), c)),
                        ],
                    )
                })
                .collect(),
        ),
    ));
    groups.push((
        w.t("cli-summary-cases"),
        none(
            s.cases
                .iter()
                .map(|(stage, n)| {
                    format!("{}: {}", word(w, "stage", stage.word()), w.n(*n as usize))
                })
                .collect(),
        ),
    ));
    for (title, list) in [
        ("cli-summary-overdue", &s.overdue),
        ("cli-summary-due", &s.this_week),
    ] {
        groups.push((
            w.t(title),
            none(
                list.iter()
                    .map(|d| {
                        let mut parts =
                            vec![w.day(d.due), w.reference(&d.id), w.line(&d.pseudonym)];
                        if !d.what.is_empty() {
                            parts.push(w.text(&d.what));
                        }
                        parts.join(w.l().sep())
                    })
                    .collect(),
            ),
        ));
    }
    groups.push((
        String::new(),
        vec![w.f(
            "cli-summary-totals",
            &[
                ("needs", &w.n(s.needs_total as usize)),
                ("cases", &w.n(s.cases_total as usize)),
            ],
        )],
    ));
    groups
}

/// A need opened `today`, before its fields are set (`add` on the command line and the desk).
pub(crate) fn new_need(today: Day) -> Need {
    Need {
        pseudonym: String::new(),
        category: panah_core::ledger::Category::Other,
        urgency: Urgency::Soon,
        status: NeedStatus::Open,
        money: None,
        notes: String::new(),
        ledger: Vec::new(),
        opened: today,
        closed: None,
    }
}

/// A case opened `today`, before its fields are set.
pub(crate) fn new_case(today: Day) -> Case {
    Case {
        pseudonym: String::new(),
        stage: Stage::Registered,
        pathway: String::new(),
        next_action: String::new(),
        due: None,
        history: Vec::new(),
        needs: Vec::new(),
        opened: today,
        closed: None,
    }
}

/// The catalogue's words for a warning from `doc::warnings`.
fn why_id(why: Identifying) -> &'static str {
    match why {
        Identifying::Smuggling => "cli-why-scope",
        Identifying::PassportLike => "cli-why-passport",
        Identifying::LongNumber => "cli-why-number",
        Identifying::Email => "cli-why-email",
        Identifying::Name => "cli-why-name",
    }
}

fn field_id(field: &str) -> &str {
    match field {
        "pseudonym" => "for",
        "next action" => "next",
        "note" => "history",
        other => other,
    }
}

fn amount(w: &Words, text: &str, currency: Currency) -> anyhow::Result<i64> {
    let t = text.trim();
    if t == "0" || t == "۰" {
        return Ok(0);
    }
    Amount::parse(t, currency).map(Amount::minor).map_err(|_| {
        anyhow::anyhow!(
            "{}",
            w.f(
                "cli-error-amount",
                &[(
                    "got",
                    &sanitize_line(&t.chars().take(30).collect::<String>())
                )]
            )
        )
    })
}

/// The categories a need may have, with their words.
pub(crate) fn need_categories() -> Vec<(panah_core::ledger::Category, &'static str)> {
    panah_core::ledger::Category::ALL
        .iter()
        .filter(|c| **c != panah_core::ledger::Category::Fees)
        .map(|c| (*c, c.word()))
        .collect()
}

pub(crate) fn pairs<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> Vec<(T, &'static str)> {
    all.iter().map(|v| (*v, word(*v))).collect()
}

impl NeedFields {
    /// Text options as typed (`-` reads standard input), direction marks taken out.
    fn read_texts(&mut self) -> anyhow::Result<()> {
        self.pseudonym = text_arg(&self.pseudonym)?;
        self.notes = text_arg(&self.notes)?;
        Ok(())
    }

    pub(crate) fn apply(&self, n: &mut Need, w: &Words, today: Day) -> anyhow::Result<()> {
        if let Some(p) = &self.pseudonym {
            n.pseudonym = p.trim().to_owned();
        }
        if let Some(c) = &self.category {
            n.category = w.choice("category", "category", &need_categories(), c)?;
        }
        if let Some(u) = &self.urgency {
            n.urgency = w.choice(
                "urgency",
                "cli-urgency",
                &pairs(Urgency::ALL, Urgency::word),
                u,
            )?;
        }
        if let Some(s) = &self.status {
            let status = w.choice(
                "status",
                "cli-status",
                &pairs(NeedStatus::ALL, NeedStatus::word),
                s,
            )?;
            set_need_status(n, status, today);
        }
        if self.asked.is_some() || self.funded.is_some() || self.currency.is_some() {
            let code = self
                .currency
                .clone()
                .or_else(|| n.money.as_ref().map(|m| m.currency.clone()))
                .unwrap_or_else(|| "AFN".into());
            let currency = Currency::parse(&code).map_err(|_| {
                anyhow::anyhow!(
                    "{}",
                    w.f(
                        "cli-error-currency",
                        &[(
                            "got",
                            &sanitize_line(&code.chars().take(12).collect::<String>())
                        )]
                    )
                )
            })?;
            let mut m = n.money.clone().unwrap_or(Money {
                currency: currency.code().to_owned(),
                asked: 0,
                funded: 0,
            });
            if m.currency != currency.code()
                && (self.asked.is_none() || (m.funded > 0 && self.funded.is_none()))
            {
                bail!("{}", w.t("cli-error-currency-change"));
            }
            m.currency = currency.code().to_owned();
            if let Some(a) = &self.asked {
                m.asked = amount(w, a, currency)?;
            }
            if let Some(f) = &self.funded {
                m.funded = amount(w, f, currency)?;
            }
            n.money = Some(m);
        }
        if let Some(t) = &self.notes {
            n.notes = t.clone();
        }
        if let Some(m) = &n.money {
            if m.funded > m.asked && m.asked > 0 {
                eprintln!("{}", w.t("cli-warn-funded-more"));
            }
        }
        for l in &self.ledger {
            if !n.ledger.contains(l) {
                n.ledger.push(*l);
            }
        }
        Ok(())
    }
}

pub(crate) fn set_need_status(n: &mut Need, status: NeedStatus, today: Day) {
    n.status = status;
    n.closed = if status.is_closed() {
        n.closed.or(Some(today))
    } else {
        None
    };
}

pub(crate) fn set_stage(c: &mut Case, stage: Stage, today: Day) {
    c.stage = stage;
    c.closed = if stage.is_closed() {
        c.closed.or(Some(today))
    } else {
        None
    };
}

impl CaseFields {
    /// Text options as typed (`-` reads standard input), direction marks taken out.
    fn read_texts(&mut self) -> anyhow::Result<()> {
        self.pseudonym = text_arg(&self.pseudonym)?;
        self.pathway = text_arg(&self.pathway)?;
        self.next_action = text_arg(&self.next_action)?;
        self.note = text_arg(&self.note)?;
        Ok(())
    }

    fn apply(&self, c: &mut Case, desk: &Desk) -> anyhow::Result<()> {
        let by = desk.keyring.public().fingerprint().to_string();
        self.apply_with(c, &desk.words, desk.today, &by, &|r| {
            desk.find(r, Kind::Need)
        })
    }

    /// Sets what was given on `c`: `by` is who adds a note, `find` finds a linked need.
    pub(crate) fn apply_with(
        &self,
        c: &mut Case,
        w: &Words,
        today: Day,
        by: &str,
        find: &dyn Fn(&str) -> anyhow::Result<RecordId>,
    ) -> anyhow::Result<()> {
        if let Some(p) = &self.pseudonym {
            c.pseudonym = p.trim().to_owned();
        }
        if let Some(s) = &self.stage {
            let stage = w.choice("stage", "cli-stage", &pairs(Stage::ALL, Stage::word), s)?;
            set_stage(c, stage, today);
        }
        if let Some(p) = &self.pathway {
            // A usual pathway typed in any language is kept as its one word, so every
            // reader sees it in theirs.
            let usual: Vec<(&'static str, &'static str)> =
                doc::PATHWAYS.iter().map(|p| (*p, *p)).collect();
            c.pathway = match w.find_choice("cli-pathway", &usual, p, |w| w.replace(' ', "-")) {
                Some(word) => word.to_owned(),
                None => p.trim().to_owned(),
            };
        }
        if let Some(n) = &self.next_action {
            c.next_action = n.clone();
        }
        if let Some(d) = &self.due {
            c.due = if d.trim() == "none" {
                None
            } else {
                Some(w.parse_day(d)?)
            };
        }
        if let Some(text) = &self.note {
            c.history.push(Note {
                date: today,
                by: by.to_owned(),
                text: text.clone(),
            });
        }
        for r in &self.needs {
            let id = find(r)?;
            if !c.needs.contains(&id) {
                c.needs.push(id);
            }
        }
        Ok(())
    }

    pub(crate) fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(p) = &self.pseudonym {
            out.push(("pseudonym", p.as_str()));
        }
        if let Some(p) = &self.pathway {
            out.push(("pathway", p.as_str()));
        }
        if let Some(n) = &self.next_action {
            out.push(("next action", n.as_str()));
        }
        if let Some(n) = &self.note {
            out.push(("note", n.as_str()));
        }
        out
    }
}

impl NeedFields {
    pub(crate) fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(p) = &self.pseudonym {
            out.push(("pseudonym", p.as_str()));
        }
        if let Some(n) = &self.notes {
            out.push(("notes", n.as_str()));
        }
        out
    }
}

pub(crate) fn word(w: &Words, prefix: &str, word: &str) -> String {
    w.t(&format!("cli-{prefix}-{word}"))
}

pub(crate) fn category_word(w: &Words, c: panah_core::ledger::Category) -> String {
    w.t(&format!("category-{}", c.word()))
}

/// One line of a list.
pub(crate) fn need_line(w: &Words, id: &RecordId, n: &Need, conflict: bool) -> String {
    let mut parts = vec![
        w.reference(id),
        word(w, "urgency", n.urgency.word()),
        category_word(w, n.category),
        w.line(&n.pseudonym),
        word(w, "status", n.status.word()),
    ];
    if let Some(m) = &n.money {
        parts.push(w.f(
            "cli-funded-of",
            &[
                ("funded", &w.money(m.funded, &m.currency)),
                ("asked", &w.money(m.asked, &m.currency)),
            ],
        ));
    }
    if conflict {
        parts.push(w.t("cli-conflict"));
    }
    format!("{}{}", w.start(), parts.join(w.l().sep()))
}

pub(crate) fn case_line(w: &Words, id: &RecordId, c: &Case, today: Day, conflict: bool) -> String {
    let mut parts = vec![
        w.reference(id),
        w.line(&c.pseudonym),
        word(w, "stage", c.stage.word()),
    ];
    if !c.pathway.is_empty() {
        parts.push(w.pathway(&c.pathway));
    }
    if let Some(d) = c.due {
        let mut due = w.f("cli-due-on", &[("date", &w.day(d))]);
        if d < today && !c.stage.is_closed() {
            due.push_str(&format!(" ({})", w.t("cli-overdue")));
        }
        parts.push(due);
    }
    if conflict {
        parts.push(w.t("cli-conflict"));
    }
    format!("{}{}", w.start(), parts.join(w.l().sep()))
}

/// A record's fields in the reader's words, label and value, and its dated history (date,
/// who, text): what `show` prints and the desk shows.
pub(crate) type Fields = (Vec<(String, String)>, Vec<(String, String, String)>);

pub(crate) fn doc_fields(
    w: &Words,
    d: &Doc,
    today: Day,
    labels: &std::collections::BTreeMap<String, String>,
) -> Fields {
    let mut out = Vec::new();
    let mut history = Vec::new();
    let mut field = |w: &Words, id: &str, value: &str| {
        out.push((w.t(&format!("cli-field-{id}")), value.to_owned()));
    };
    match d {
        Doc::Need(n) => {
            field(w, "for", &w.line(&n.pseudonym));
            field(w, "category", &category_word(w, n.category));
            field(w, "urgency", &word(w, "urgency", n.urgency.word()));
            field(w, "status", &word(w, "status", n.status.word()));
            if let Some(m) = &n.money {
                field(w, "asked", &w.money(m.asked, &m.currency));
                field(w, "funded", &w.money(m.funded, &m.currency));
            }
            if !n.notes.is_empty() {
                field(w, "notes", &w.text(&n.notes));
            }
            if !n.ledger.is_empty() {
                let entries: Vec<String> = n.ledger.iter().map(|i| w.n(*i as usize)).collect();
                field(w, "ledger", &w.l().list(&entries));
            }
            field(w, "opened", &w.day(n.opened));
            if let Some(c) = n.closed {
                field(w, "closed", &w.day(c));
            }
        }
        Doc::Case(c) => {
            field(w, "for", &w.line(&c.pseudonym));
            field(w, "stage", &word(w, "stage", c.stage.word()));
            if !c.pathway.is_empty() {
                field(w, "pathway", &w.pathway(&c.pathway));
            }
            if !c.next_action.is_empty() {
                field(w, "next", &w.text(&c.next_action));
            }
            if let Some(d) = c.due {
                let mut due = w.day(d);
                if d < today && !c.stage.is_closed() {
                    due.push_str(&format!(" ({})", w.t("cli-overdue")));
                }
                field(w, "due", &due);
            }
            if !c.needs.is_empty() {
                let refs: Vec<String> = c.needs.iter().map(|n| w.reference(n)).collect();
                field(w, "needs", &w.l().list(&refs));
            }
            field(w, "opened", &w.day(c.opened));
            if let Some(d) = c.closed {
                field(w, "closed", &w.day(d));
            }
            for n in &c.history {
                history.push((w.day(n.date), w.who(&n.by, labels), w.text(&n.text)));
            }
        }
        Doc::Audit(_) | Doc::Deleted(_) => {}
    }
    (out, history)
}

fn print_doc(w: &Words, d: &Doc, today: Day, labels: &std::collections::BTreeMap<String, String>) {
    let (fields, history) = doc_fields(w, d, today, labels);
    for (label, value) in fields {
        println!("{label}: {value}");
    }
    if !history.is_empty() {
        println!("{}:", w.t("cli-field-history"));
        for (date, who, text) in history {
            let sep = w.l().sep();
            println!("{}  {date}{sep}{who}{sep}{text}", w.start());
        }
    }
}

fn show(desk: &Desk, id: &RecordId, json: bool) -> anyhow::Result<()> {
    let w = &desk.words;
    let doc = desk
        .cache
        .current(id)
        .or(desk.cache.records.get(id).map(|h| &h.doc))
        .or(desk.cache.set_aside.get(id).map(|h| &h.doc))
        .context("there is no such record here")?;
    if json {
        let held = desk.cache.held(id);
        let value = serde_json::json!({
            "id": id.to_string(),
            "version": held.map(|h| h.version),
            "signed_by": held.map(|h| h.by.clone()),
            "signed_at": held.map(|h| h.date.to_string()),
            "pending": desk.cache.pending.contains_key(id),
            "conflict": desk.cache.conflicts.get(id).map(|c| serde_json::json!({"mine": c.mine})),
            "record": doc,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!(
        "{} {}",
        w.t(&format!("cli-{}", doc.kind().map_or("need", Kind::word))),
        w.reference(id)
    );
    // With two versions waiting, both are shown side by side below instead; a record only
    // set aside is shown once, as such.
    let only_aside = desk.cache.current(id).is_none() && !desk.cache.records.contains_key(id);
    if !desk.cache.conflicts.contains_key(id) && !only_aside {
        print_doc(w, doc, desk.today, &desk.cache.labels);
    }
    if let Some(h) = desk.cache.held(id) {
        println!(
            "{}",
            w.f(
                "cli-field-signed",
                &[
                    ("who", &w.who(&h.by, &desk.cache.labels)),
                    ("date", &w.l().date(h.date)),
                    ("version", &w.n(h.version as usize)),
                ]
            )
        );
    }
    if desk.cache.pending.contains_key(id) {
        println!("{}", w.t("cli-field-pending"));
    }
    if let Doc::Case(c) = doc {
        for n in &c.needs {
            if let Some(Doc::Need(need)) = desk.cache.current(n) {
                println!("  {}", need_line(w, n, need, false));
            }
        }
    }
    desk.conflict_note(id);
    if let Some(aside) = desk.cache.set_aside.get(id) {
        println!();
        println!(
            "{}",
            w.f(
                "cli-set-aside",
                &[
                    ("who", &w.who(&aside.by, &desk.cache.labels)),
                    ("date", &w.l().date(aside.date)),
                ]
            )
        );
        print_doc(w, &aside.doc, desk.today, &desk.cache.labels);
    }
    Ok(())
}

fn export(desk: &Desk, id: &RecordId, output: &std::path::Path) -> anyhow::Result<()> {
    let bytes = records::export(&desk.cache, id, &desk.keyring)?;
    write_private(output, &bytes)?;
    println!(
        "{}",
        desk.words.f(
            "cli-exported",
            &[("file", &sanitize_line(&output.display().to_string()))]
        )
    );
    Ok(())
}

pub async fn needs(args: NeedsArgs) -> anyhow::Result<()> {
    let mut desk = Desk::open(&args.common)?;
    let today = desk.today;
    match args.command {
        NeedsCommand::Add(mut f) => {
            f.read_texts()?;
            let mut n = new_need(today);
            if f.pseudonym.as_deref().is_none_or(|p| p.trim().is_empty()) || f.category.is_none() {
                bail!("{}", desk.words.t("cli-error-need-fields"));
            }
            f.apply(&mut n, &desk.words, today)?;
            desk.check_texts(&f.texts(), f.anyway)?;
            let id = desk.cache.add(Doc::Need(n))?;
            desk.changed(id).await
        }
        NeedsCommand::List {
            status,
            category,
            urgency,
            all,
            json,
        } => {
            let w = &desk.words;
            let status = status
                .map(|s| {
                    w.choice(
                        "status",
                        "cli-status",
                        &pairs(NeedStatus::ALL, NeedStatus::word),
                        &s,
                    )
                })
                .transpose()?;
            let category = category
                .map(|c| w.choice("category", "category", &need_categories(), &c))
                .transpose()?;
            let urgency = urgency
                .map(|u| {
                    w.choice(
                        "urgency",
                        "cli-urgency",
                        &pairs(Urgency::ALL, Urgency::word),
                        &u,
                    )
                })
                .transpose()?;
            let mut list: Vec<(RecordId, Need)> = desk
                .cache
                .docs()
                .filter_map(|(id, d)| match d {
                    Doc::Need(n) => Some((*id, n.clone())),
                    _ => None,
                })
                .chain(
                    desk.cache
                        .conflicts
                        .iter()
                        .filter_map(|(id, c)| match &c.mine {
                            Some(Doc::Need(n)) if desk.cache.current(id).is_none() => {
                                Some((*id, n.clone()))
                            }
                            _ => None,
                        }),
                )
                .filter(|(_, n)| status.is_none_or(|s| n.status == s))
                .filter(|(_, n)| {
                    all || status.is_some()
                        || matches!(n.status, NeedStatus::Open | NeedStatus::Funded)
                })
                .filter(|(_, n)| category.is_none_or(|c| n.category == c))
                .filter(|(_, n)| urgency.is_none_or(|u| n.urgency == u))
                .collect();
            list.sort_by_key(|(_, n)| (n.urgency, n.opened));
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|(id, n)| serde_json::json!({"id": id.to_string(), "record": Doc::Need(n.clone()), "conflict": desk.cache.conflicts.contains_key(id)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(());
            }
            let w = &desk.words;
            if list.is_empty() {
                println!("{}", w.t("cli-list-empty-needs"));
            }
            for (id, n) in &list {
                println!(
                    "{}",
                    need_line(w, id, n, desk.cache.conflicts.contains_key(id))
                );
            }
            desk.status_line();
            Ok(())
        }
        NeedsCommand::Show { reference, json } => {
            let id = desk.find(&reference, Kind::Need)?;
            show(&desk, &id, json)
        }
        NeedsCommand::Update {
            reference,
            mut fields,
        } => {
            fields.read_texts()?;
            let id = desk.find(&reference, Kind::Need)?;
            let before = desk.need(&id)?;
            let mut n = before.clone();
            fields.apply(&mut n, &desk.words, today)?;
            desk.check_texts(&fields.texts(), fields.anyway)?;
            desk.replace(id, Doc::Need(before), Doc::Need(n)).await
        }
        NeedsCommand::Close {
            reference,
            declined,
        } => {
            let id = desk.find(&reference, Kind::Need)?;
            let before = desk.need(&id)?;
            let mut n = before.clone();
            let status = if declined {
                NeedStatus::Declined
            } else {
                NeedStatus::Closed
            };
            set_need_status(&mut n, status, today);
            desk.replace(id, Doc::Need(before), Doc::Need(n)).await
        }
        NeedsCommand::Delete { reference, yes } => {
            delete(&mut desk, &reference, Kind::Need, yes).await
        }
        NeedsCommand::Resolve { reference, keep } => {
            resolve(&mut desk, &reference, Kind::Need, keep).await
        }
        NeedsCommand::Export { reference, output } => {
            let id = desk.find(&reference, Kind::Need)?;
            export(&desk, &id, &output)
        }
    }
}

async fn delete(desk: &mut Desk, reference: &str, kind: Kind, yes: bool) -> anyhow::Result<()> {
    let id = desk.find(reference, kind)?;
    let w = &desk.words;
    if !yes {
        let what = desk
            .cache
            .current(&id)
            .and_then(Doc::pseudonym)
            .unwrap_or_default();
        let ask = w.f(
            "cli-delete-confirm",
            &[("ref", &id.short()), ("who", &w.line(what))],
        );
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("{}", w.f("cli-delete-needs-yes", &[("ref", &id.short())]));
        }
        if !crate::panic::confirmed(&ask)? {
            println!("{}", w.t("cli-delete-cancelled"));
            return Ok(());
        }
    }
    desk.cache.delete(&id, Action::Deleted)?;
    println!("{}", desk.words.f("cli-deleted", &[("ref", &id.short())]));
    desk.changed(id).await
}

async fn resolve(desk: &mut Desk, reference: &str, kind: Kind, keep: Keep) -> anyhow::Result<()> {
    let id = desk.find(reference, kind)?;
    let choice = match keep {
        Keep::Mine => records::Choice::Mine,
        Keep::Theirs => records::Choice::Theirs,
        Keep::Merged => records::Choice::Merged,
    };
    desk.cache.resolve(&id, choice).map_err(|e| match e {
        panah_client::ClientError::MergeClash(fields) => anyhow::anyhow!(
            "{}",
            desk.words.f(
                "cli-error-merge",
                &[("fields", &sanitize_line(&fields.join(desk.words.l().sep())))]
            )
        ),
        other => other.into(),
    })?;
    println!("{}", desk.words.f("cli-resolved", &[("ref", &id.short())]));
    if desk.offline {
        desk.save()?;
        return Ok(());
    }
    desk.changed_quietly(id).await
}

pub async fn cases(args: CasesArgs) -> anyhow::Result<()> {
    let mut desk = Desk::open(&args.common)?;
    let today = desk.today;
    match args.command {
        CasesCommand::Add(mut f) => {
            f.read_texts()?;
            if f.pseudonym.as_deref().is_none_or(|p| p.trim().is_empty()) {
                bail!("{}", desk.words.t("cli-error-case-fields"));
            }
            let mut c = new_case(today);
            f.apply(&mut c, &desk)?;
            desk.check_texts(&f.texts(), f.anyway)?;
            let id = desk.cache.add(Doc::Case(c))?;
            desk.changed(id).await
        }
        CasesCommand::List {
            stage,
            due_before,
            overdue,
            all,
            json,
        } => {
            let w = &desk.words;
            let stage = stage
                .map(|s| w.choice("stage", "cli-stage", &pairs(Stage::ALL, Stage::word), &s))
                .transpose()?;
            let due_before = due_before.map(|d| w.parse_day(&d)).transpose()?;
            let mut list: Vec<(RecordId, Case)> = desk
                .cache
                .docs()
                .filter_map(|(id, d)| match d {
                    Doc::Case(c) => Some((*id, c.clone())),
                    _ => None,
                })
                .filter(|(_, c)| stage.is_none_or(|s| c.stage == s))
                .filter(|(_, c)| all || stage.is_some() || !c.stage.is_closed())
                .filter(|(_, c)| due_before.is_none_or(|d| c.due.is_some_and(|due| due <= d)))
                .filter(|(_, c)| !overdue || c.due.is_some_and(|due| due < today))
                .collect();
            list.sort_by(|a, b| {
                (a.1.due.is_none(), a.1.due, a.1.opened).cmp(&(
                    b.1.due.is_none(),
                    b.1.due,
                    b.1.opened,
                ))
            });
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|(id, c)| serde_json::json!({"id": id.to_string(), "record": Doc::Case(c.clone()), "conflict": desk.cache.conflicts.contains_key(id)}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(());
            }
            let w = &desk.words;
            if list.is_empty() {
                println!("{}", w.t("cli-list-empty-cases"));
            }
            for (id, c) in &list {
                println!(
                    "{}",
                    case_line(w, id, c, today, desk.cache.conflicts.contains_key(id))
                );
            }
            desk.status_line();
            Ok(())
        }
        CasesCommand::Show { reference, json } => {
            let id = desk.find(&reference, Kind::Case)?;
            show(&desk, &id, json)
        }
        CasesCommand::Update {
            reference,
            mut fields,
        } => {
            fields.read_texts()?;
            let id = desk.find(&reference, Kind::Case)?;
            let before = desk.case(&id)?;
            let mut c = before.clone();
            fields.apply(&mut c, &desk)?;
            desk.check_texts(&fields.texts(), fields.anyway)?;
            desk.replace(id, Doc::Case(before), Doc::Case(c)).await
        }
        CasesCommand::Close {
            reference,
            withdrawn,
        } => {
            let id = desk.find(&reference, Kind::Case)?;
            let before = desk.case(&id)?;
            let mut c = before.clone();
            let stage = if withdrawn {
                Stage::Withdrawn
            } else {
                Stage::Closed
            };
            set_stage(&mut c, stage, today);
            desk.replace(id, Doc::Case(before), Doc::Case(c)).await
        }
        CasesCommand::Delete { reference, yes } => {
            delete(&mut desk, &reference, Kind::Case, yes).await
        }
        CasesCommand::Resolve { reference, keep } => {
            resolve(&mut desk, &reference, Kind::Case, keep).await
        }
        CasesCommand::Export { reference, output } => {
            let id = desk.find(&reference, Kind::Case)?;
            export(&desk, &id, &output)
        }
        CasesCommand::Audit { json } => {
            let trail = desk.cache.audit_trail();
            if json {
                println!("{}", serde_json::to_string_pretty(&trail)?);
                return Ok(());
            }
            for line in audit_lines(&desk.words, &desk.cache) {
                println!("{line}");
            }
            desk.status_line();
            Ok(())
        }
    }
}

pub async fn summary(args: SummaryArgs) -> anyhow::Result<()> {
    let desk = Desk::open(&args.common)?;
    let s = Summary::of(desk.cache.docs(), desk.today);
    if args.json {
        let value = serde_json::json!({
            "open_needs": s.open_needs.iter().map(|((c, u), n)| serde_json::json!({"category": c.word(), "urgency": u.word(), "count": n})).collect::<Vec<_>>(),
            "money": s.money.iter().map(|(c, (a, f))| serde_json::json!({"currency": c, "asked": a, "funded": f})).collect::<Vec<_>>(),
            "cases": s.cases.iter().map(|(st, n)| serde_json::json!({"stage": st.word(), "count": n})).collect::<Vec<_>>(),
            "due_this_week": s.this_week.iter().map(|d| serde_json::json!({"id": d.id.to_string(), "due": d.due.to_string()})).collect::<Vec<_>>(),
            "overdue": s.overdue.iter().map(|d| serde_json::json!({"id": d.id.to_string(), "due": d.due.to_string()})).collect::<Vec<_>>(),
            "needs": s.needs_total,
            "cases_total": s.cases_total,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let w = &desk.words;
    println!("{}", w.t("cli-summary-title"));
    for (title, lines) in summary_groups(w, &s) {
        println!();
        if title.is_empty() {
            for line in lines {
                println!("{line}");
            }
            continue;
        }
        println!("{title}");
        for line in lines {
            println!("{}  {line}", w.start());
        }
    }
    desk.status_line();
    Ok(())
}

pub async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    let mut desk = Desk::open(&args.common)?;
    let keep = match args.keep_closed_days {
        Some(days) if !(0..=36_500).contains(&days) => {
            bail!("{}", desk.words.t("cli-error-keep-days"))
        }
        // Deleting closed records at once is a one-time choice, not a setting.
        Some(days) if days > 0 => {
            desk.cache.keep_closed_days = Some(days);
            days
        }
        Some(days) => days,
        None => desk
            .cache
            .keep_closed_days
            .unwrap_or(records::DEFAULT_KEEP_CLOSED_DAYS),
    };
    desk.sync(keep).await?;
    desk.status_line();
    Ok(())
}

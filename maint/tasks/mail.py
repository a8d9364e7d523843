"""`fab mail STORE`: the weekly bulk e-mail, sent from the site, journalled so nobody gets it twice."""

from __future__ import annotations

import json as _json
import sys
from pathlib import Path

from maint import render
from maint.billing.marketing import Allowance, campaign_kinds, refuse_beyond
from maint.errors import InputError, PreconditionError
from maint.facts.opencart import get_store_facts
from maint.flyer.service import find_flyer, now_utc
from maint.flyer.store import store_settings, store_url
from maint.lock import local_lock
from maint.mail import campaign as camp
from maint.mail.journal import Campaign, Journal, Recipient
from maint.mail.message import Content, MessageFactory
from maint.mail.recipients import (
    add_suppressed,
    build_audience,
    opted_out,
    parse_sources,
    read_list,
    read_suppressed,
    store_customers,
    suppression_path,
    valid_email,
)
from maint.mail.send import SendPolicy, send_campaign
from maint.mail.smtp import open_smtp
from maint.pricing.issues import SheetInvalidError, issue_table
from maint.remote.sql import open_db
from maint.remote.ssh import connect
from maint.runner import Road, run_change
from maint.tasks.common import emit_json, maint_task, task, wants_over_budget, work_session
from maint.tasks.marketing import done, marketing_week

ISSUE_COLUMNS = ("file", "row", "column", "value", "reason")


def _content_file(tc, cfg, flyer, html):
    if bool(flyer) == bool(html):
        raise InputError("give --flyer ID or --html FILE (one of them)", column="--flyer")
    if flyer:
        folder = find_flyer(cfg.state_dir, cfg.client, flyer)
        meta = _json.loads((folder / "flyer.json").read_text(encoding="utf-8"))
        _check_specials_last(meta, now_utc().date())
        return folder / "body.html", str(meta.get("headline") or "")
    return Path(html), ""


def _check_specials_last(meta, today):
    """A flyer is only as true as its prices: a special it shows that has ended by now stops the send."""
    gone = [p for p in meta.get("products", []) if p.get("special_ends") and p["special_ends"] < today.isoformat()]
    if gone:
        names = ", ".join(f"{p['name']} (last day {p['special_ends']})" for p in gone)
        raise PreconditionError(f"flyer {meta.get('id')} shows specials that have ended: {names}; "
                                "make a new flyer with fab flyer")


@task(
    name="mail",
    examples=["fab mail demo --flyer 3 --dry-run", "fab mail demo --flyer 3 --test-to me@agency.example",
              "fab mail demo --html news.html --subject \"News\" --to group:Wholesale --yes"],
    positional=["store"],
    help={
        "store": "store name from the inventory",
        "flyer": "send this flyer (an ID printed by fab flyer)",
        "html": "send this HTML file (images beside it travel inline)",
        "subject": "the subject line (default: the flyer's headline)",
        "to": "newsletter (default), customers, group:NAME, list:FILE.csv|xlsx; comma-separated",
        "server": "store (its own SMTP settings; maint.smtp when it uses PHP mail) or agency (maint.smtp)",
        "rate": "messages per minute, 0 = no limit (default: options.mail.rate_per_minute of the store, its "
                "client or fabric.yaml, else the plan's marketing.rate_per_minute, else no limit)",
        "test_to": "send one message to this address only (nothing journalled)",
        "suppress": "add these addresses (comma-separated) to the client's suppression list and stop",
        "report": "write a per-recipient CSV report to this file",
        "skip_invalid": "send to the valid rows of a list file and name the invalid ones, instead of stopping",
        "dry_run": "show the plan, write a preview of the first message, send nothing",
        "yes": "don't ask before sending",
        "json": "print the plan and result as JSON",
        "over_budget": "a campaign beyond what the client's plan includes this week (plans.yaml marketing)",
        "resend_unsure": "send again to those whose message was in flight when a run was killed",
    },
)
@maint_task
def mail(
    c,
    store,
    flyer="",
    html="",
    subject="",
    to="newsletter",
    server="store",
    rate=-1.0,
    test_to="",
    suppress="",
    report="",
    skip_invalid=False,
    dry_run=False,
    yes=False,
    json=False,
    over_budget=False,
    resend_unsure=False,
):
    """Send the weekly bulk e-mail (a flyer or an HTML file) to subscribers and the client's list, once each."""
    week = marketing_week(c, store)
    tc, cfg = week.tc, week.cfg
    base = camp.client_dir(cfg.state_dir, cfg.client)
    sup_file = suppression_path(cfg.state_dir, cfg.client)
    if suppress:
        added = add_suppressed(sup_file, [a for a in suppress.split(",") if a.strip()], "unsubscribed (--suppress)")
        result = {"suppressed_added": added, "file": str(sup_file)}
        done(result, json, f"{cfg.client}: {len(added)} address(es) added to {sup_file}", [])
        return result
    if server not in ("store", "agency"):
        raise InputError("--server is store or agency", column="--server")
    if test_to and not valid_email(test_to):
        raise InputError(f"{test_to!r} is not an e-mail address", column="--test-to")
    path, headline = _content_file(tc, cfg, flyer, html)
    subject = subject or headline
    if not subject:
        raise InputError("give --subject (the flyer has no headline to use)", column="--subject")
    sources = parse_sources(to)
    lists = {}
    for source in sources:  # list files are checked before any connection: every bad row named
        if source.kind == "list":
            try:
                lists[source.arg] = read_list(Path(source.arg), skip_invalid=skip_invalid)
            except SheetInvalidError as exc:
                _issues(f"{len(exc.issues)} problem(s) in {Path(source.arg).name}; nothing was sent", exc.issues, json)
                raise
    per_minute, rate_source = week.rate(rate)
    conn = connect(cfg)
    try:
        facts = get_store_facts(conn, cfg)
        with open_db(conn, facts.db, store=store) as db:
            settings = store_settings(db, facts.db.prefix, store_id=cfg.store_id)
            shop_url = store_url(db, facts.db.prefix, cfg.store_id, facts.url)
            batches = []
            opt_outs = set()
            if not test_to:
                for source in sources:
                    if source.kind == "list":
                        batches.append((source, lists[source.arg][0]))
                    else:
                        batches.append((source, store_customers(db, facts.db.prefix, source, cfg.store_id)))
                if any(s.kind == "list" for s in sources):
                    opt_outs = opted_out(db, facts.db.prefix)
    finally:
        conn.close()
    smtp = camp.choose_smtp(settings, tc.settings.smtp, server)
    content = Content.from_html_file(path, subject, settings.get("config_name") or store)
    cid = camp.campaign_id(store, content, sources)
    unsub_url, unsub_mailto = camp.unsubscribe_links(shop_url, settings.get("config_email") or smtp.sender)
    factory = MessageFactory(content, smtp.sender, smtp.sender_name, unsub_url, unsub_mailto, cid)
    if test_to:
        return _test_send(tc, cfg, content, smtp, unsub_url, unsub_mailto, cid, test_to, json)
    audience = build_audience(batches, read_suppressed(sup_file), opt_outs)
    warnings = [f"{i.file}: {i.value}: {i.reason}" for i in audience.issues]
    if any(s.kind in ("customers", "group") for s in sources):
        warnings.append("customers/group: includes customers who did not subscribe to the newsletter; "
                        "bulk marketing may need their consent")
    warnings += [f"list row {i.row}: {i.reason} (skipped)" for _, found in lists.items() for i in found[1]]
    journal_path = Path(cfg.state_dir).expanduser() / "mail.sqlite"
    earlier: dict[str, int] = {}
    known: set[str] = set()
    used: dict[str, list[str]] = {"mail": [], "list": []}
    if journal_path.exists():
        with Journal(journal_path) as journal:
            if journal.campaign(cid) is not None:
                earlier, known = journal.counts(cid), journal.addresses(cid)
            for other in journal.campaigns_since(cfg.client, week.since):
                if other.id != cid:
                    for kind in campaign_kinds(other.sources.split(",")):
                        used[kind].append(other.id)
    allowances = [week.allowance(kind, used[kind]) for kind in sorted(campaign_kinds([str(s) for s in sources]))]
    new = [r for r in audience.recipients if r.key not in known]
    plan = camp.plan_campaign(store, cid, audience, new, earlier, resend_unsure=resend_unsure)
    summary = {
        "store": store, "campaign": cid, "subject": subject, "server": str(smtp), "server_source": smtp.source,
        "sender": smtp.sender, "per_source": audience.per_source, "to_send": len(audience.recipients),
        "new": len(new), "suppressed": len(audience.suppressed), "already": earlier,
        "rate_per_minute": per_minute, "rate_source": rate_source,
        "allowance": [a.as_dict() for a in allowances], "plan": plan.as_dict(), "dry_run": dry_run,
    }
    over_budget = wants_over_budget(tc, over_budget)
    if plan and not dry_run and any(a.over for a in allowances) and not over_budget:
        if not json:
            _show_plan(summary)
        refuse_beyond(allowances, cfg.client, over_budget=over_budget)
    warnings += [f"beyond the plan (--over-budget): {a.describe()}" for a in allowances if a.over and plan]
    ledger_note: list[str] = []

    def apply():
        with local_lock(base / "mail" / f"{store}.lock", "mail", store=store), Journal(journal_path) as journal:
            journal.create(
                Campaign(cid, cfg.client, store, subject, content.sha, ",".join(str(s) for s in sources),
                         now_utc().isoformat(timespec="seconds"), None),
                audience.recipients, audience.suppressed,
            )
            if resend_unsure:
                journal.retry_unsure(cid)
            counts = journal.counts(cid)
            with render.progress(out=render.console(sys.stderr)) as bar:
                job = bar.add_task(f"{store}: sending", total=counts["pending"] + counts["deferred"])
                result = send_campaign(
                    journal, cid, factory, smtp, policy=SendPolicy(rate_per_minute=per_minute),
                    suppression_file=sup_file, progress=lambda n, r, s: bar.update(job, completed=n),
                )
            final = journal.counts(cid)
            ledger_note.append(f"campaign {cid} {subject!r}: {result.sent} sent now, {final['sent']} in all")
            if final["pending"] == 0 and final["deferred"] == 0:
                journal.finish(cid)
            if report:
                camp.write_report(Path(report), journal, cid)
        return result, final

    question = f"Send {subject!r} to {len(new)} new recipient(s) from {store} via {smtp}?"
    road = Road("mail", question, dry_run=dry_run, yes=yes, json=json, over_budget=over_budget, note=ledger_note)
    went = run_change(tc, cfg, None, plan, road, apply, show=lambda _plan: _show_plan(summary))
    if dry_run:
        folder = base / "mail" / cid / "preview"
        first = new[0] if new else (audience.recipients[0] if audience.recipients else None)
        written = camp.write_preview(folder, factory, first, audience)
        summary["preview"] = [str(p) for p in written]
        done(summary, json, f"{store}: dry run, nothing sent; preview in {folder}", warnings)
        return summary
    if not went.applied or went.result is None:
        summary |= {"sent_now": 0, "counts": earlier}
        done(summary, json, "", warnings)  # the road said "No changes" and why
        return summary
    result, final = went.result
    summary |= {"sent_now": result.sent, "counts": final, "reconnects": result.reconnects}
    if final["sending"]:
        warnings.append(f"{final['sending']} message(s) were being sent when an earlier run stopped: they may have "
                        "gone out and are not sent again (see the report; --resend-unsure sends them)")
    if final["deferred"]:
        warnings.append(f"{final['deferred']} deferred (temporary failures): run again later to retry them")
    done(summary, json,
          f"{store}: campaign {cid}: sent {final['sent']} ({result.sent} now), suppressed {final['suppressed']}, "
          f"refused {final['refused']}, deferred {final['deferred']}", warnings)
    return summary


def _test_send(tc, cfg, content, smtp, unsub_url, unsub_mailto, cid, test_to, as_json):
    """One message to the maintainer, nothing journalled; the store is not changed, so no road to walk."""
    test_content = Content(f"[TEST] {content.subject}", content.html, content.images, content.sha)
    one = MessageFactory(test_content, smtp.sender, smtp.sender_name, unsub_url, unsub_mailto, cid)
    with work_session(tc, cfg, "mail", quiet=as_json, detail=[f"test message of {cid} to {test_to}"]):
        client = open_smtp(smtp)
        try:
            client.sendmail(smtp.sender, [test_to], one.build(Recipient(test_to, "Test Recipient", "test")))
        finally:
            client.quit()
    result = {"store": cfg.store, "campaign": cid, "test_to": test_to, "server": str(smtp)}
    done(result, as_json, f"{cfg.store}: one test message sent to {test_to} via {smtp} (nothing journalled)", [])
    return result


def _show_plan(summary):
    rows = [(source, c["found"], c["duplicate"], c["suppressed"], c["invalid"], c["to_send"])
            for source, c in summary["per_source"].items()]
    rate = summary["rate_per_minute"]
    render.table(
        f"Mail plan for {summary['store']}: campaign {summary['campaign']}, {summary['subject']!r}, "
        f"via {summary['server']} ({summary['server_source']}) from {summary['sender']}",
        ("source", "found", "duplicate", "suppressed", "invalid", "to send"), rows,
    )
    con = render.console()
    con.print(f"rate: {f'{rate:g} messages a minute' if rate else 'no limit'} ({summary['rate_source']})",
              highlight=False, markup=False, soft_wrap=True)
    for a in summary["allowance"]:
        beyond = " (this one is beyond it: --over-budget)" if a["over"] else ""
        con.print(_allowance_text(a) + beyond, highlight=False, markup=False, soft_wrap=True)
    already = summary["already"]
    if already:
        render.console().print(
            f"resuming: {already.get('sent', 0)} already sent, {already.get('pending', 0)} pending, "
            f"{already.get('deferred', 0)} deferred, {already.get('sending', 0)} unsure",
            highlight=False, markup=False,
        )


def _allowance_text(data):
    return Allowance(data["kind"], data["plan"], data["included"], tuple(data["used"])).describe()


def _issues(title, issues, as_json):
    if as_json:
        emit_json([{"store": None, "ok": False, "error": title, "exit_code": 50,
                    "issues": [i.as_dict() for i in issues]}])
        return
    render.table(title, ISSUE_COLUMNS, issue_table(issues), out=render.console(sys.stderr))


"""`fab mail STORE`: the weekly bulk e-mail, sent from the site, journalled so nobody gets it twice."""

from __future__ import annotations

import json as _json
import sys
from pathlib import Path

from maint import render
from maint.billing.plans import load_plans
from maint.errors import BudgetError, InputError, PreconditionError
from maint.facts.opencart import get_store_facts
from maint.flyer.service import find_flyer, now_utc
from maint.flyer.store import store_settings
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
from maint.tasks.common import TaskContext, confirm, emit_json, maint_task, task, work_session

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
        "rate": "messages per minute (default: the store's options.mail.rate_per_minute, else no limit)",
        "test_to": "send one message to this address only (nothing journalled)",
        "suppress": "add these addresses (comma-separated) to the client's suppression list and stop",
        "report": "write a per-recipient CSV report to this file",
        "skip_invalid": "send to the valid rows of a list file and name the invalid ones, instead of stopping",
        "dry_run": "show the plan, write a preview of the first message, send nothing",
        "yes": "don't ask before sending",
        "json": "print the plan and result as JSON",
        "over_budget": "a second bulk e-mail in the same week (the plan has one per week)",
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
    tc = TaskContext.from_c(c)
    cfg = tc.store(store)
    base = camp.client_dir(cfg.state_dir, cfg.client)
    sup_file = suppression_path(cfg.state_dir, cfg.client)
    if suppress:
        added = add_suppressed(sup_file, [a for a in suppress.split(",") if a.strip()], "unsubscribed (--suppress)")
        result = {"suppressed_added": added, "file": str(sup_file)}
        _done(result, json, f"{cfg.client}: {len(added)} address(es) added to {sup_file}", [])
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
    per_minute = float(rate) if rate >= 0 else float(cfg.option("mail", "rate_per_minute", 0) or 0)
    ledger_note = []
    with work_session(tc, cfg, "mail", quiet=json, over_budget=over_budget, yes=yes, dry_run=dry_run,
                      detail=ledger_note):
        conn = connect(cfg)
        try:
            facts = get_store_facts(conn, cfg)
            with open_db(conn, facts.db, store=store) as db:
                settings = store_settings(db, facts.db.prefix)
                batches = []
                opt_outs = set()
                if not test_to:
                    for source in sources:
                        if source.kind == "list":
                            batches.append((source, lists[source.arg][0]))
                        else:
                            batches.append((source, store_customers(db, facts.db.prefix, source)))
                    if any(s.kind == "list" for s in sources):
                        opt_outs = opted_out(db, facts.db.prefix)
        finally:
            conn.close()
        smtp = camp.choose_smtp(settings, tc.settings.smtp, server)
        content = Content.from_html_file(path, subject, settings.get("config_name") or store)
        cid = camp.campaign_id(store, content, sources)
        unsub_url, unsub_mailto = camp.unsubscribe_links(facts.url, settings.get("config_email") or smtp.sender)
        factory = MessageFactory(content, smtp.sender, smtp.sender_name, unsub_url, unsub_mailto, cid)
        if test_to:
            test_content = Content(f"[TEST] {content.subject}", content.html, content.images, content.sha)
            one = MessageFactory(test_content, smtp.sender, smtp.sender_name, unsub_url, unsub_mailto, cid)
            client = open_smtp(smtp)
            try:
                client.sendmail(smtp.sender, [test_to], one.build(Recipient(test_to, "Test Recipient", "test")))
            finally:
                client.quit()
            result = {"store": store, "campaign": cid, "test_to": test_to, "server": str(smtp)}
            _done(result, json, f"{store}: one test message sent to {test_to} via {smtp} (nothing journalled)", [])
            return result
        audience = build_audience(batches, read_suppressed(sup_file), opt_outs)
        warnings = [f"{i.file}: {i.value}: {i.reason}" for i in audience.issues]
        if any(s.kind in ("customers", "group") for s in sources):
            warnings.append("customers/group: includes customers who did not subscribe to the newsletter; "
                            "bulk marketing may need their consent")
        warnings += [f"list row {i.row}: {i.reason} (skipped)" for _, found in lists.items() for i in found[1]]
        journal_path = Path(cfg.state_dir).expanduser() / "mail.sqlite"
        earlier = {}
        if journal_path.exists():
            with Journal(journal_path) as journal:
                if journal.campaign(cid) is not None:
                    earlier = journal.counts(cid)
                zone = load_plans(tc.settings.plans_file).timezone  # weeks as the plan counts them
                others = camp.campaigns_this_week(journal, cfg.client, now_utc().astimezone(zone).date(),
                                                  other_than=cid, zone=zone)
        else:
            others = []
        summary = {
            "store": store, "campaign": cid, "subject": subject, "server": str(smtp), "server_source": smtp.source,
            "sender": smtp.sender, "per_source": audience.per_source, "to_send": len(audience.recipients),
            "suppressed": len(audience.suppressed), "already": earlier, "rate_per_minute": per_minute,
            "dry_run": dry_run,
        }
        if not json:
            _show_plan(summary)
        if dry_run:
            folder = base / "mail" / cid / "preview"
            first = audience.recipients[0] if audience.recipients else None
            written = camp.write_preview(folder, factory, first, audience)
            summary["preview"] = [str(p) for p in written]
            _done(summary, json, f"{store}: dry run, nothing sent; preview in {folder}", warnings)
            return summary
        if others and not over_budget:
            raise BudgetError(f"{cfg.client}: the plan has one bulk e-mail per week and {others[0]} went out this "
                              "week; use --over-budget for another")
        if not audience.recipients and not earlier:
            _done(summary, json, f"{store}: nobody to send to", warnings)
            return summary
        confirm(f"Send {subject!r} to up to {len(audience.recipients)} recipient(s) from {store} via {smtp}?", yes=yes)
        with local_lock(base / "mail" / f"{store}.lock", "mail", store=store), Journal(journal_path) as journal:
            journal.create(
                Campaign(cid, cfg.client, store, subject, content.sha, ",".join(str(s) for s in sources),
                         now_utc().isoformat(timespec="seconds"), None),
                audience.recipients, audience.suppressed,
            )
            if resend_unsure:
                journal.retry_unsure(cid)
            counts = journal.counts(cid)
            total = counts["pending"] + counts["deferred"]
            with render.progress(out=render.console(sys.stderr)) as bar:
                job = bar.add_task(f"{store}: sending", total=total)
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
    summary |= {"sent_now": result.sent, "counts": final, "reconnects": result.reconnects}
    if final["sending"]:
        warnings.append(f"{final['sending']} message(s) were being sent when an earlier run stopped: they may have "
                        "gone out and are not sent again (see the report; --resend-unsure sends them)")
    if final["deferred"]:
        warnings.append(f"{final['deferred']} deferred (temporary failures): run again later to retry them")
    _done(summary, json,
          f"{store}: campaign {cid}: sent {final['sent']} ({result.sent} now), suppressed {final['suppressed']}, "
          f"refused {final['refused']}, deferred {final['deferred']}", warnings)
    return summary


def _show_plan(summary):
    rows = [(source, c["found"], c["duplicate"], c["suppressed"], c["invalid"], c["to_send"])
            for source, c in summary["per_source"].items()]
    render.table(
        f"Mail plan for {summary['store']}: campaign {summary['campaign']}, {summary['subject']!r}, "
        f"via {summary['server']} ({summary['server_source']}) from {summary['sender']}",
        ("source", "found", "duplicate", "suppressed", "invalid", "to send"), rows,
    )
    already = summary["already"]
    if already:
        render.console().print(
            f"resuming: {already.get('sent', 0)} already sent, {already.get('pending', 0)} pending, "
            f"{already.get('deferred', 0)} deferred, {already.get('sending', 0)} unsure",
            highlight=False, markup=False,
        )


def _issues(title, issues, as_json):
    if as_json:
        emit_json([{"store": None, "ok": False, "error": title, "exit_code": 50,
                    "issues": [i.as_dict() for i in issues]}])
        return
    render.table(title, ISSUE_COLUMNS, issue_table(issues), out=render.console(sys.stderr))


def _done(summary, as_json, message, warnings):
    summary["warnings"] = list(warnings or [])
    if as_json:
        emit_json([summary])
        return
    con = render.console()
    con.print(message, highlight=False, markup=False, soft_wrap=True)
    for w in warnings or []:
        con.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)

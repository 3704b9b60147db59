"""CRM-agnostic simulation of one chunk of leads: people, channels, junk, the funnel, deals,
payments and activities, as numpy arrays / DataFrames.

Times are float64 unix seconds (UTC) with NaN for "never reached"; a point after `as_of` is
censored to NaN, which is what leaves the newest leads open. Each chunk covers a contiguous range
of days and draws from its own generator seeded by (seed, account, chunk index), so the output is
the same however the run is chunked in memory.

The renderers (render_bitrix24, render_amocrm) turn a SimChunk into each CRM's tables; truth.py
turns it into the ground-truth rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sandbox.generator import world as W
from sandbox.generator.world import DAY

HOUR = 3600.0
MINUTE = 60.0

# Lead part outcome codes.
L_NEW, L_TAKEN, L_CLASSIFIED, L_REJECTED, L_CONVERTED = range(5)
# Deal stage codes (shared by both CRMs' renderings; see render_* for the CRM ids).
D_NEW, D_PREP, D_SHOWPLAN, D_SHOWN, D_BOOKED, D_CONTRACT, D_WON, D_LOST = range(8)

PHONE_FORMAT_WEIGHTS = np.array([0.35, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05])
INVALID_PHONES = np.array(["12345", "+7 (916) 12", "8-800", "000000", "+7916123456789", "тел",
                           "79", "+7 (000) 000-00-0", "9161234", "нет"], dtype=object)
SPAM_NAMES = np.array(["Продвижение сайтов", "SEO раскрутка", "Кредит без отказа", "Заработок онлайн",
                       "Casino Bonus", "Бесплатные лиды", "Crypto invest"], dtype=object)
SPAM_TEXT = np.array([
    "Раскрутим ваш сайт в ТОП-10 Яндекса! Подробнее: http://seo-top-promo.ru",
    "Заработок от 5000 в день без вложений https://bit.ly/3xYzAbc",
    "Best casino bonus 200% >>> http://casino-win.example.com",
    "Купим базу клиентов, пишите в telegram @lead_base_seller https://t.me/leadbase",
    "Кредит без отказа за 5 минут http://kredit-bez-otkaza.top",
], dtype=object)
TEST_NAMES = np.array(["Тест", "test", "Тестовый лид", "ТЕСТ тест", "Test Test"], dtype=object)
LATIN = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def format_phones(nat: np.ndarray, fmt: np.ndarray) -> np.ndarray:
    """Render 10-digit national numbers in the formats people and integrations really type."""
    out = np.empty(len(nat), dtype=object)
    s = [f"{int(v):010d}" for v in nat]
    for i, (d, f) in enumerate(zip(s, fmt)):
        if f == 0:
            out[i] = "+7" + d
        elif f == 1:
            out[i] = "8" + d
        elif f == 2:
            out[i] = f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}"
        elif f == 3:
            out[i] = f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}"
        elif f == 4:
            out[i] = "7" + d
        elif f == 5:
            out[i] = f"8({d[:3]}){d[3:]}"
        else:
            out[i] = f"+7 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}"
    return out


@dataclass
class SimChunk:
    """One chunk's simulated facts. `leads` is sorted by created_at; ids are account-native."""

    account: W.Account
    leads: pd.DataFrame
    deals: pd.DataFrame
    payments: pd.DataFrame
    activities: pd.DataFrame
    chunk_index: int


def _lognorm(rng, n, median, sigma):
    return rng.lognormal(np.log(median), sigma, n)


def _to_work_hours(t: np.ndarray) -> np.ndarray:
    """Move times outside 09:00-21:00 Moscow to the next 09:00 (nobody answers leads at night)."""
    local = (t + 3 * HOUR) % DAY
    day0 = t - local
    early = local < 9 * HOUR
    late = local >= 21 * HOUR
    return np.where(early, day0 + 9 * HOUR, np.where(late, day0 + DAY + 9 * HOUR, t))


def simulate_chunk(acc: W.Account, rng: np.random.Generator, day_start: float, day_counts: np.ndarray,
                   as_of: float, ids: dict, chunk_index: int) -> SimChunk:
    """Simulate the leads created on days [day_start, day_start + len(day_counts)).

    `ids` holds the running id counters of the account (advanced in place, in chunk order).
    """
    n = int(day_counts.sum())
    n_days = len(day_counts)
    chunk_end = min(day_start + n_days * DAY, as_of)
    day_of = np.repeat(np.arange(n_days), day_counts)

    # ---------------------------------------------------------------- arrival times and channel
    hour = np.where(rng.random(n) < 0.85, np.clip(rng.normal(13.5, 3.3, n), 7.5, 23.4),
                    rng.uniform(0, 24, n))
    created = day_start + day_of * DAY + hour * HOUR  # day_start is Moscow midnight
    created = np.clip(created, day_start + day_of * DAY, day_start + (day_of + 1) * DAY - 1)
    channel = rng.choice(len(W.CHANNELS), n, p=W.CH_WEIGHT / W.CH_WEIGHT.sum())
    walk = channel == W.CH_KEY.tolist().index("walk_in")
    created[walk] = day_start + day_of[walk] * DAY + rng.uniform(10, 19.5, walk.sum()) * HOUR

    kind = np.zeros(n, dtype=np.int8)
    is_junk = rng.random(n) < W.CH_JUNK[channel]
    kw = W.JUNK_KIND_WEIGHTS / W.JUNK_KIND_WEIGHTS.sum()
    kind[is_junk] = rng.choice(len(W.JUNK_KINDS), is_junk.sum(), p=kw)

    # Bot bursts: a few dozen form submissions within minutes, deep at night.
    n_bot = int(round(n * 0.025))
    if n_bot and n >= 40:
        bot_idx = rng.choice(n, n_bot, replace=False)
        n_bursts = max(1, n_bot // 35)
        burst_day = rng.integers(0, n_days, n_bursts)
        burst_t0 = day_start + burst_day * DAY + rng.uniform(1, 5, n_bursts) * HOUR
        b = rng.integers(0, n_bursts, n_bot)
        created[bot_idx] = burst_t0[b] + rng.uniform(0, 25 * MINUTE, n_bot)
        day_of[bot_idx] = burst_day[b]
        kind[bot_idx] = W.J_BOT
        channel[bot_idx] = np.where(rng.random(n_bot) < 0.7, W.CH_WEBSITE, W.CH_PAID)
    # Keep every lead inside its chunk's days so ids follow creation time across chunks.
    created = np.clip(created, day_start, min(day_start + n_days * DAY, as_of) - 1)

    # ---------------------------------------------------------------- people and phones
    first, last, second, female = W.person_names(rng, n)
    phone_nat = 9_000_000_000 + rng.integers(0, 1_000_000_000, n)
    phone_fmt = rng.choice(len(PHONE_FORMAT_WEIGHTS), n, p=PHONE_FORMAT_WEIGHTS)
    has_email = rng.random(n) < 0.3
    nontarget = (rng.random(n) < 0.45) & (kind == W.J_NONE)

    # ---------------------------------------------------------------- responsible manager
    mg = acc.managers
    t_days = day_start + (np.arange(n_days) + 0.5) * DAY
    hired = mg["hired_at"].to_numpy()
    fired = np.nan_to_num(mg["fired_at"].to_numpy(), nan=np.inf)
    head = mg["position"].str.startswith("Руководитель").to_numpy()
    wmat = ((hired[None, :] <= t_days[:, None]) & (t_days[:, None] < fired[None, :])).astype(float)
    wmat *= np.where(head, 0.4, 1.0)[None, :]
    cum = np.cumsum(wmat, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(n)
    mi = (u[:, None] > cum[day_of]).sum(axis=1)
    mi = np.minimum(mi, len(mg) - 1)
    skill = mg["skill"].to_numpy()[mi]
    manager = mg["manager_id"].to_numpy()[mi].astype(np.int64)
    conv = W.CH_CONV[channel]

    # ---------------------------------------------------------------- clean funnel
    nan = np.full(n, np.nan)
    taken, classified, rejected, converted = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    reject_reason = np.full(n, -1, dtype=np.int64)
    clean = kind == W.J_NONE
    t_take = _to_work_hours(created) + _lognorm(rng, n, 9, 1.1) / skill * MINUTE
    t_take = np.minimum(t_take, created + 3 * DAY)
    is_taken = clean & (rng.random(n) < 0.97)
    taken[is_taken] = t_take[is_taken]
    t_cls = taken + _lognorm(rng, n, 3, 1.0) * HOUR
    is_cls = is_taken & (rng.random(n) < 0.85)
    classified[is_cls] = t_cls[is_cls]
    noreach = is_taken & ~is_cls & (rng.random(n) < 0.6)
    rejected[noreach] = (taken + rng.uniform(3, 10, n) * DAY)[noreach]
    reject_reason[noreach] = W.R_NOREACH
    nt = is_cls & nontarget
    rejected[nt] = (classified + rng.uniform(1, 120, n) * MINUTE)[nt]
    reject_reason[nt] = W.R_NONTARGET
    # Not every qualified buyer is ready to pick an apartment now: those stay qualified leads.
    tgt = is_cls & ~nontarget & (rng.random(n) < 0.7)
    converted[tgt] = (classified + rng.uniform(5, 180, n) * MINUTE)[tgt]

    # ---------------------------------------------------------------- deal part
    show_created, show_planned, shown, booked, contract, lost = (nan.copy() for _ in range(6))
    lost_reason = np.full(n, -1, dtype=np.int64)
    p_plan = np.clip(0.5 * conv ** 0.5 * skill ** 0.5, 0, 0.95)
    plan = tgt & (rng.random(n) < p_plan)
    show_created[plan] = (converted + _lognorm(rng, n, 20, 0.8) * HOUR)[plan]
    planned_at = _to_work_hours(show_created + rng.uniform(1, 6, n) * DAY)
    show_planned[plan] = planned_at[plan]
    held = plan & (rng.random(n) < 0.82)
    shown[held] = (show_planned + rng.uniform(-15, 30, n) * MINUTE)[held]
    noshow = plan & ~held
    lost[noshow] = (show_planned + rng.uniform(1, 5, n) * DAY)[noshow]
    lost_reason[noshow] = 3
    direct = tgt & ~plan & (rng.random(n) < 0.05)
    booked[direct] = (converted + _lognorm(rng, n, 5, 0.6) * DAY)[direct]
    idle = tgt & ~plan & ~direct
    idle_lost = idle & (rng.random(n) < 0.75)
    lost[idle_lost] = (converted + rng.uniform(3, 40, n) * DAY)[idle_lost]
    lost_reason[idle_lost] = rng.integers(0, len(W.DEAL_LOSS_REASONS), n)[idle_lost]
    p_book = np.clip(0.3 * conv ** 0.5 * skill, 0, 0.9)
    book = held & (rng.random(n) < p_book)
    booked[book] = (shown + _lognorm(rng, n, 4, 0.8) * DAY)[book]
    shown_lost = held & ~book & (rng.random(n) < 0.85)
    lost[shown_lost] = (shown + rng.uniform(2, 25, n) * DAY)[shown_lost]
    lost_reason[shown_lost] = rng.integers(0, len(W.DEAL_LOSS_REASONS), n)[shown_lost]
    has_book = book | direct
    sign = has_book & (rng.random(n) < 0.86)
    contract[sign] = (booked + rng.uniform(3, 20, n) * DAY)[sign]
    book_lost = has_book & ~sign
    lost[book_lost] = (booked + rng.uniform(5, 25, n) * DAY)[book_lost]
    lost_reason[book_lost] = np.where(rng.random(n) < 0.6, 2, 3)[book_lost]

    # ---------------------------------------------------------------- duplicates and repeats
    dup_of = np.full(n, -1, dtype=np.int64)
    clean_idx = np.nonzero(clean)[0]
    horizon = min(chunk_end, as_of) - 1
    for k in (W.J_EXACT, W.J_PHONEFMT, W.J_REPEAT):
        sel = np.nonzero(kind == k)[0]
        if not len(sel):
            continue
        if k == W.J_REPEAT:
            deal_end = np.fmin(np.fmin(lost, contract), horizon)
            pool = np.nonzero(tgt & (converted < horizon) & (deal_end > converted))[0]
        else:
            pool = clean_idx[created[clean_idx] < horizon - 60]
        if not len(pool):
            kind[sel] = W.J_SPAM
            continue
        orig = pool[rng.integers(0, len(pool), len(sel))]
        if k == W.J_EXACT:
            t = created[orig] + rng.uniform(5, 600, len(sel))
        elif k == W.J_PHONEFMT:
            t = created[orig] + _lognorm(rng, len(sel), 8, 1.3) * HOUR
        else:
            t = converted[orig] + rng.uniform(0.1, 0.9, len(sel)) * (deal_end[orig] - converted[orig])
        t = np.minimum(t, horizon)
        t = np.maximum(t, created[orig] + 1)
        created[sel] = t
        dup_of[sel] = orig
        first[sel], last[sel], second[sel], female[sel] = first[orig], last[orig], second[orig], female[orig]
        phone_nat[sel] = phone_nat[orig]
        has_email[sel] = has_email[orig]
        if k == W.J_EXACT:
            phone_fmt[sel] = phone_fmt[orig]
            channel[sel] = channel[orig]
        else:
            # A different rendering of the same number, which is what defeats naive dedup.
            phone_fmt[sel] = (phone_fmt[orig] + rng.integers(1, len(PHONE_FORMAT_WEIGHTS), len(sel))) % len(
                PHONE_FORMAT_WEIGHTS)
            channel[sel] = rng.choice(len(W.CHANNELS), len(sel), p=W.CH_WEIGHT / W.CH_WEIGHT.sum())

    # ---------------------------------------------------------------- junk leads in the CRM
    junk = kind != W.J_NONE
    no_resp = kind == W.J_NORESP
    manager[no_resp] = -1
    t_take = _to_work_hours(created) + _lognorm(rng, n, 25, 1.2) * MINUTE
    j_taken = junk & ~no_resp & (rng.random(n) < 0.6)
    taken[j_taken] = t_take[j_taken]
    marked = junk & (rng.random(n) < W.JUNK_MARKED[kind])
    base = np.where(np.isnan(taken), _to_work_hours(created), taken)
    rejected[marked] = (base + _lognorm(rng, n, 2, 1.2) * HOUR)[marked]
    reason_by_kind = np.array([-1, W.R_DUP, W.R_DUP, W.R_DUP, W.R_TEST, W.R_SPAM, W.R_BADPHONE,
                               W.R_NONTARGET, W.R_NONTARGET, W.R_SPAM], dtype=np.int64)
    reject_reason[marked] = reason_by_kind[kind[marked]]

    # ---------------------------------------------------------------- censor at as_of
    for arr in (taken, classified, rejected, converted, show_created, shown, booked, contract, lost):
        arr[arr > as_of] = np.nan
    show_planned[np.isnan(show_created)] = np.nan  # a planned showing exists once it was planned
    reject_reason[np.isnan(rejected)] = -1
    lost_reason[np.isnan(lost)] = -1
    # A rejection only counts if it came after the work it closes (classified may be later).
    rejected[~np.isnan(rejected) & ~np.isnan(converted)] = np.nan

    # ---------------------------------------------------------------- sort by creation, ids
    order = np.argsort(created, kind="stable")
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    lead_id = ids["lead"] + np.arange(n, dtype=np.int64)
    ids["lead"] += n

    def p(a):
        return a[order]

    dup_sorted = p(dup_of)
    dup_lead = np.where(dup_sorted >= 0, lead_id[inv[np.maximum(dup_sorted, 0)]], -1)
    kind = p(kind)
    phone_nat, phone_fmt = p(phone_nat), p(phone_fmt)
    phone_raw = format_phones(phone_nat, phone_fmt)
    phone_e164 = np.array(["+7%010d" % v for v in phone_nat], dtype=object)
    # Test leads: the well-known fake number or a "тест" name; spam and bots: nonsense names.
    t_sel = kind == W.J_TEST
    nt_ = int(t_sel.sum())
    fake = rng.random(nt_) < 0.5
    tp = phone_raw[t_sel]
    te = phone_e164[t_sel]
    tp[fake] = "79999999999"
    te[fake] = "+79999999999"
    phone_raw[t_sel], phone_e164[t_sel] = tp, te
    first, last, second = p(first), p(last), p(second)
    first[t_sel] = TEST_NAMES[rng.integers(0, len(TEST_NAMES), nt_)]
    last[t_sel] = None
    second[t_sel] = None
    inv_sel = kind == W.J_INVALID
    phone_raw[inv_sel] = INVALID_PHONES[rng.integers(0, len(INVALID_PHONES), inv_sel.sum())]
    phone_e164[inv_sel] = None
    spam_sel = kind == W.J_SPAM
    first[spam_sel] = SPAM_NAMES[rng.integers(0, len(SPAM_NAMES), spam_sel.sum())]
    last[spam_sel] = None
    second[spam_sel] = None
    bot_sel = kind == W.J_BOT
    nb = int(bot_sel.sum())
    letters = LATIN[rng.integers(0, 26, (nb, 7))]
    first[bot_sel] = np.array(["".join(r) for r in letters], dtype=object)
    last[bot_sel] = None
    second[bot_sel] = None
    comments = np.full(n, None, dtype=object)
    comments[spam_sel] = SPAM_TEXT[rng.integers(0, len(SPAM_TEXT), spam_sel.sum())]
    comments[bot_sel] = SPAM_TEXT[rng.integers(0, len(SPAM_TEXT), nb)]
    comments[t_sel] = "тестовая заявка, не обрабатывать"
    email = np.full(n, None, dtype=object)
    he = p(has_email) & ~bot_sel
    email[he] = np.array([f"client{int(v) % 10_000_000}@mail.ru" for v in phone_nat[he]], dtype=object)
    email[bot_sel] = np.array([f"{f}@{f[:3]}.xyz" for f in first[bot_sel]], dtype=object)

    channel = p(channel)
    leads = pd.DataFrame({
        "lead_id": lead_id, "created_at": p(created), "channel": channel, "kind": kind,
        "dup_of_lead_id": dup_lead, "manager_id": p(manager), "skill": p(skill),
        "taken_at": p(taken), "classified_at": p(classified), "rejected_at": p(rejected),
        "reject_reason": p(reject_reason), "converted_at": p(converted),
        "is_target": p(clean & ~nontarget), "nontarget": p(nontarget & clean),
        "first": first, "last": last, "second": second, "female": p(female),
        "phone_raw": phone_raw, "phone_e164": phone_e164, "email": email, "comments": comments,
        "show_created_at": p(show_created), "show_planned_at": p(show_planned), "shown_at": p(shown),
        "booked_at": p(booked), "contract_at": p(contract), "lost_at": p(lost),
        "lost_reason": p(lost_reason),
    })
    leads["missing_source"] = leads["kind"] == W.J_NOSRC
    mgr_idx = pd.Index(mg["manager_id"]).get_indexer(leads["manager_id"])
    leads["dept_id"] = np.where(mgr_idx >= 0, mg["dept_id"].to_numpy()[np.maximum(mgr_idx, 0)], -1)
    leads["department"] = np.where(mgr_idx >= 0, mg["department"].to_numpy()[np.maximum(mgr_idx, 0)], None)
    leads["branch"] = np.where(mgr_idx >= 0, mg["branch"].to_numpy()[np.maximum(mgr_idx, 0)],
                               acc.branches[0])
    # UTM marks for paid search and the website form (the form keeps the ad's marks too).
    utm = leads["channel"].isin([W.CH_PAID, W.CH_WEBSITE]).to_numpy() & ~leads["missing_source"].to_numpy()
    leads["utm_source"] = np.where(utm, np.where(leads["channel"] == W.CH_PAID, "yandex", "google"), None)
    leads["utm_medium"] = np.where(utm, "cpc", None)
    leads["utm_campaign"] = np.where(utm, W.UTM_CAMPAIGNS[rng.integers(0, len(W.UTM_CAMPAIGNS), n)], None)
    leads["utm_content"] = np.where(utm, W.UTM_CONTENT[rng.integers(0, len(W.UTM_CONTENT), n)], None)
    leads["utm_term"] = np.where(utm, W.UTM_TERM[rng.integers(0, len(W.UTM_TERM), n)], None)
    # Project of interest: every lead asks about one of the account's projects.
    proj = np.array(acc.projects)
    leads["project"] = proj[rng.integers(0, len(proj), n)]

    # Managers delete some obvious rubbish outright (Bitrix24: the row is gone; amoCRM: is_deleted).
    rubbish = leads["kind"].isin([W.J_SPAM, W.J_BOT, W.J_TEST]).to_numpy() & leads["converted_at"].isna().to_numpy()
    t_del = leads["rejected_at"].fillna(leads["created_at"]).to_numpy() + rng.uniform(1, 72, n) * HOUR
    is_del = rubbish & (rng.random(n) < 0.15) & (t_del <= as_of)
    leads["is_deleted"] = is_del
    leads["deleted_at"] = np.where(is_del, t_del, np.nan)
    deals = _deals(acc, rng, leads, ids)
    for c in ("prep_at", "invoice_at"):
        deals.loc[deals[c] > as_of, c] = np.nan
    payments = _payments(rng, deals, as_of, ids)
    if len(deals):
        first_paid = payments[payments["paid"]].groupby("deal_id")["paid_at"].min()
        deals["paid_at"] = deals["deal_id"].map(first_paid).astype(float)
        # Won when the first money arrived (the control point "paid").
        deals["won_at"] = deals["paid_at"]
        leads["paid_at"] = leads["lead_id"].map(deals.set_index("lead_id")["paid_at"]).astype(float)
    else:
        deals["paid_at"] = deals["won_at"] = np.array([], dtype=float)
        leads["paid_at"] = np.nan
    activities = _activities(rng, leads, deals, as_of, ids)
    return SimChunk(acc, leads, deals, payments, activities, chunk_index)


def _deals(acc, rng, leads: pd.DataFrame, ids: dict) -> pd.DataFrame:
    conv = leads[leads["converted_at"].notna()].sort_values("converted_at", kind="stable")
    m = len(conv)
    d = pd.DataFrame({
        "lead_id": conv["lead_id"].to_numpy(), "created_at": conv["converted_at"].to_numpy(),
        "manager_id": conv["manager_id"].to_numpy(), "channel": conv["channel"].to_numpy(),
        "project": conv["project"].to_numpy(),
    })
    if acc.system == "amocrm":
        # amoCRM has no separate deal object: the lead reaching the deal part is the deal.
        d["deal_id"] = d["lead_id"]
    else:
        d["deal_id"] = ids["deal"] + np.arange(m, dtype=np.int64)
        ids["deal"] += m
    d["contact_id"] = ids["contact"] + np.arange(m, dtype=np.int64)
    ids["contact"] += m
    for c in ("show_created_at", "show_planned_at", "shown_at", "booked_at", "contract_at", "lost_at",
              "lost_reason"):
        d[c] = conv[c].to_numpy()
    # Moved to "selection" (подбор) soon after creation, always before the next point.
    nxt = np.fmin(np.fmin(d["show_created_at"], d["booked_at"]), d["lost_at"]).to_numpy()
    prep = d["created_at"].to_numpy() + rng.uniform(5, 240, m) * MINUTE
    prep = np.fmin(prep, nxt - 60)
    prep = np.maximum(prep, d["created_at"].to_numpy() + 1)
    d["prep_at"] = prep
    # Issuing the first invoice moves the deal to "awaiting payment" an hour after signing.
    d["invoice_at"] = d["contract_at"] + HOUR
    # Won deals are never lost; a lost deal has no later points.
    rooms = rng.choice(5, m, p=[0.12, 0.35, 0.33, 0.16, 0.04])
    lo = np.array([25, 34, 52, 72, 96])[rooms]
    hi = np.array([32, 45, 70, 95, 120])[rooms]
    area = np.round(rng.uniform(lo, hi), 1)
    ppm = np.array([W.PROJECTS[p][3] for p in d["project"]]) if m else np.array([])
    price = np.round(area * ppm * rng.uniform(0.92, 1.12, m), -3)
    booked = d["booked_at"].notna().to_numpy()
    d["rooms"] = rooms
    d["area_m2"] = np.where(booked, area, np.nan)
    d["price"] = np.where(booked, price, np.nan)
    d["payment_form"] = np.where(booked, rng.choice(5, m, p=W.PAYMENT_FORM_WEIGHTS), -1)
    n_b = int(booked.sum())
    apt = np.full(m, -1, dtype=np.int64)
    apt[booked] = ids["apartment"] + np.arange(n_b)
    ids["apartment"] += n_b
    d["apartment_id"] = apt
    nb = np.array([W.PROJECTS[p][4] for p in d["project"]]) if m else np.array([], dtype=int)
    nf = np.array([W.PROJECTS[p][5] for p in d["project"]]) if m else np.array([], dtype=int)
    d["building"] = (rng.random(m) * nb).astype(int) + 1
    d["floor"] = (rng.random(m) * nf).astype(int) + 1
    return d


def _payments(rng, deals: pd.DataFrame, as_of: float, ids: dict) -> pd.DataFrame:
    """Payment schedules of signed contracts; rows after as_of are the unpaid future schedule."""
    rows = []
    sig = deals[deals["contract_at"].notna()]
    for deal_id, t0, price, form in zip(sig["deal_id"], sig["contract_at"], sig["price"], sig["payment_form"]):
        price = float(price)
        if form == 2:  # full payment
            parts, days = [1.0], [rng.uniform(2, 10)]
        elif form == 0:  # mortgage: own down payment then the bank, or the bank pays it all
            if rng.random() < 0.55:
                dp = rng.uniform(0.15, 0.3)
                parts, days = [dp, 1 - dp], [rng.uniform(1, 7), rng.uniform(15, 45)]
            else:
                parts, days = [1.0], [rng.uniform(10, 40)]
        elif form == 1:  # installment: down payment then monthly
            dp = rng.uniform(0.3, 0.5)
            k = int(rng.choice([6, 12, 18, 24]))
            first = rng.uniform(1, 7)
            parts = [dp] + [(1 - dp) / k] * k
            days = [first] + [first + 30.44 * j for j in range(1, k + 1)]
        elif form == 3:  # maternity capital arrives from the Social Fund weeks later
            mc = min(630_000.0, 0.3 * price) / price
            parts, days = [1 - mc, mc], [rng.uniform(2, 10), rng.uniform(30, 75)]
        else:  # trade-in: the old flat must sell first
            parts, days = [0.1, 0.9], [rng.uniform(1, 7), rng.uniform(45, 120)]
        amounts = np.round(np.array(parts) * price, 0)
        amounts[-1] = price - amounts[:-1].sum()
        for j, (a, dd) in enumerate(zip(amounts, days)):
            t = t0 + dd * DAY
            rows.append((deal_id, j, t, a, form))
    p = pd.DataFrame(rows, columns=["deal_id", "seq", "due_at", "amount", "payment_form"])
    p["payment_id"] = ids["payment"] + np.arange(len(p), dtype=np.int64)
    ids["payment"] += len(p)
    p["paid"] = p["due_at"] <= as_of
    p["paid_at"] = np.where(p["paid"], p["due_at"], np.nan)
    return p


def _activities(rng, leads: pd.DataFrame, deals: pd.DataFrame, as_of: float, ids: dict) -> pd.DataFrame:
    """Calls, meetings, showings and tasks with planned vs held times."""
    parts = []
    leads = leads[~leads["is_deleted"]]  # deleting a lead takes its activities with it
    nl = len(leads)
    # First call when the lead was taken; target leads get one or two follow-up calls.
    tk = leads[leads["taken_at"].notna() & (leads["manager_id"] >= 0)]
    parts.append(pd.DataFrame({"kind": "call", "lead_id": tk["lead_id"], "deal_id": -1,
                               "manager_id": tk["manager_id"], "planned_at": tk["taken_at"],
                               "held_at": tk["taken_at"]}))
    end = leads[["classified_at", "rejected_at"]].min(axis=1).fillna(as_of)
    extra = leads["taken_at"].notna() & (leads["manager_id"] >= 0) & (rng.random(nl) < 0.45)
    ex = leads[extra]
    te = ex["taken_at"] + rng.uniform(0.1, 1, len(ex)) * (end[extra] - ex["taken_at"]).clip(lower=600)
    te = te.clip(upper=as_of - 1)
    parts.append(pd.DataFrame({"kind": "call", "lead_id": ex["lead_id"], "deal_id": -1,
                               "manager_id": ex["manager_id"], "planned_at": te, "held_at": te}))
    # Backlog: untaken leads with a responsible have an open call to make.
    bl = leads[leads["taken_at"].isna() & leads["rejected_at"].isna() & (leads["manager_id"] >= 0)]
    pc = _to_work_hours(bl["created_at"].to_numpy() + 15 * MINUTE)
    parts.append(pd.DataFrame({"kind": "call", "lead_id": bl["lead_id"], "deal_id": -1,
                               "manager_id": bl["manager_id"], "planned_at": pc, "held_at": np.nan}))
    if len(deals):
        # Task: prepare a selection of apartments, due a day after conversion.
        due = deals["created_at"] + DAY
        parts.append(pd.DataFrame({"kind": "task", "lead_id": deals["lead_id"], "deal_id": deals["deal_id"],
                                   "manager_id": deals["manager_id"], "planned_at": due,
                                   "held_at": np.where(due <= as_of, due - rng.uniform(0, 20, len(deals)) * HOUR,
                                                       np.nan)}))
        sh = deals[deals["show_planned_at"].notna()]
        parts.append(pd.DataFrame({"kind": "showing", "lead_id": sh["lead_id"], "deal_id": sh["deal_id"],
                                   "manager_id": sh["manager_id"], "planned_at": sh["show_planned_at"],
                                   "held_at": sh["shown_at"]}))
        mt = deals[rng.random(len(deals)) < 0.3]
        mp = _to_work_hours(mt["created_at"].to_numpy() + rng.uniform(1, 5, len(mt)) * DAY)
        mh = np.where((mp <= as_of) & (rng.random(len(mt)) < 0.85), mp, np.nan)
        parts.append(pd.DataFrame({"kind": "meeting", "lead_id": mt["lead_id"], "deal_id": mt["deal_id"],
                                   "manager_id": mt["manager_id"], "planned_at": mp, "held_at": mh}))
        cl = deals[deals["booked_at"].notna()]
        parts.append(pd.DataFrame({"kind": "call", "lead_id": cl["lead_id"], "deal_id": cl["deal_id"],
                                   "manager_id": cl["manager_id"], "planned_at": cl["booked_at"] - 2 * HOUR,
                                   "held_at": cl["booked_at"] - 2 * HOUR}))
    a = pd.concat(parts, ignore_index=True)
    # Planned activities are created a little before they are due; keep creation ≤ as_of.
    a["created_at"] = np.minimum(a["planned_at"] - np.where(a["kind"] == "call", 0,
                                                               rng.uniform(1, 48, len(a)) * HOUR),
                                 as_of - 1)
    a.loc[a["held_at"] > as_of, "held_at"] = np.nan
    a = a.sort_values(["created_at", "lead_id"], kind="stable").reset_index(drop=True)
    a["activity_id"] = ids["activity"] + np.arange(len(a), dtype=np.int64)
    ids["activity"] += len(a)
    a["is_completed"] = a["held_at"].notna()
    a["duration"] = np.where(a["kind"] == "call", rng.integers(30, 420, len(a)),
                             np.where(a["kind"] == "task", 0, 3600))
    return a

"""The static world of the sandbox: accounts, branches, departments, managers, projects, channels.

Everything here is small (tens of rows) and derived from the seed alone, so the lead simulation can
be chunked freely: each chunk reads this world and never changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

MSK = timezone(timedelta(hours=3))
DAY = 86_400.0

# --------------------------------------------------------------------------- names
MALE_FIRST = np.array("""Александр Алексей Андрей Антон Артём Борис Вадим Валерий Виктор Виталий
    Владимир Дмитрий Евгений Егор Иван Игорь Илья Кирилл Константин Максим Михаил Никита Николай
    Олег Павел Роман Руслан Сергей Степан Тимур Фёдор Юрий Ярослав Марат Ринат Айдар""".split())
FEMALE_FIRST = np.array("""Анастасия Анна Алина Валентина Вера Виктория Галина Дарья Евгения Екатерина
    Елена Жанна Зарина Ирина Ксения Лариса Любовь Людмила Марина Мария Наталья Нина Ольга Полина
    Светлана София Татьяна Юлия Яна Алсу Гульнара Лилия Диляра Эльвира""".split())
LAST_BASE = np.array("""Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров
    Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев
    Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев
    Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин
    Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов
    Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов
    Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин
    Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов
    Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов
    Потапов Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов
    Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев
    Акимов Кондратьев Бирюков Горбунов Анисимов Еремин Тихомиров Галкин Лукьянов Михеев Скворцов
    Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронов
    Аксёнов Софронов Мальцев Логинов Горшков Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов
    Плотников Демин Хохлов Жданов Веселов Мухаметов Хабибуллин Сафин Гарипов Валиев""".split())
LAST_FEMALE = np.array([s + "а" for s in LAST_BASE])
MALE_PATRONYMIC = np.array("""Александрович Алексеевич Андреевич Викторович Владимирович Дмитриевич
    Евгеньевич Иванович Игоревич Михайлович Николаевич Олегович Павлович Сергеевич Юрьевич""".split())
FEMALE_PATRONYMIC = np.array([p[:-2] + "на" for p in MALE_PATRONYMIC])

# --------------------------------------------------------------------------- channels
# key, display name, Bitrix24 SOURCE_ID, relative volume, junk share, conversion multiplier,
# utm (source, medium) or None. Junk share and conversion differ by channel on purpose: the
# sales-channel mart must show that classifieds and paid search bring volume but also junk.
CHANNELS = [
    ("avito", "Авито", "UC_AVITO", 0.18, 0.24, 0.8, None),
    ("cian", "ЦИАН", "UC_CIAN", 0.15, 0.17, 1.0, None),
    ("domclick", "Домклик", "UC_DOMCLICK", 0.10, 0.14, 1.1, None),
    ("paid_search", "Контекстная реклама", "ADVERTISING", 0.17, 0.30, 0.7, ("yandex", "cpc")),
    ("website", "Форма на сайте", "WEB", 0.14, 0.30, 0.8, ("site", "form")),
    ("call", "Входящий звонок", "CALL", 0.12, 0.08, 1.3, None),
    ("walk_in", "Визит в офис продаж", "UC_OFFICE", 0.04, 0.02, 2.5, None),
    ("agent", "Агенты и партнёры", "PARTNER", 0.06, 0.05, 1.8, None),
    ("referral", "Рекомендация", "RECOMMENDATION", 0.04, 0.03, 2.2, None),
]
CH_KEY = np.array([c[0] for c in CHANNELS])
CH_NAME = np.array([c[1] for c in CHANNELS])
CH_B24 = np.array([c[2] for c in CHANNELS])
CH_WEIGHT = np.array([c[3] for c in CHANNELS])
CH_JUNK = np.array([c[4] for c in CHANNELS])
CH_CONV = np.array([c[5] for c in CHANNELS])
CH_AGENT = int(np.nonzero(CH_KEY == "agent")[0][0])
CH_WEBSITE = int(np.nonzero(CH_KEY == "website")[0][0])
CH_PAID = int(np.nonzero(CH_KEY == "paid_search")[0][0])
UTM_CAMPAIGNS = np.array(["brand", "novostroyki_msk", "ipoteka_6", "retarget", "kvartiry_ot_zastr"])
UTM_CONTENT = np.array(["banner_1", "text_a", "text_b", "video", "carousel"])
UTM_TERM = np.array(["купить квартиру", "новостройки", "жк от застройщика", "ипотека новостройка",
                     "квартира в ипотеку"])

# --------------------------------------------------------------------------- junk kinds
# Code order matters: it is the integer code used in the simulation (0 = clean).
JUNK_KINDS = ["", "exact_duplicate", "phone_format_duplicate", "repeat_open_deal", "test", "spam",
              "invalid_phone", "missing_source", "missing_responsible", "bot_burst"]
J_NONE, J_EXACT, J_PHONEFMT, J_REPEAT, J_TEST, J_SPAM, J_INVALID, J_NOSRC, J_NORESP, J_BOT = range(10)
# Relative frequency of each kind among the channel's junk (bot bursts are placed separately).
JUNK_KIND_WEIGHTS = np.array([0, 0.22, 0.20, 0.10, 0.08, 0.14, 0.12, 0.08, 0.06, 0.0])
# Share of each kind the managers do mark in the CRM (status JUNK / lost with a reason). The rest
# is the junk the pipeline itself must detect.
JUNK_MARKED = np.array([0, 0.35, 0.25, 0.10, 0.50, 0.55, 0.45, 0.0, 0.0, 0.40])

# Lead-stage rejection reasons (= CRM junk reasons), shared by both CRMs.
REJECT_REASONS = ["Спам", "Дубль", "Нецелевой", "Тест", "Неверный номер", "Не дозвонились"]
R_SPAM, R_DUP, R_NONTARGET, R_TEST, R_BADPHONE, R_NOREACH = range(6)
# Deal-stage loss reasons (not junk).
DEAL_LOSS_REASONS = ["Дорого", "Купил у конкурента", "Не одобрена ипотека", "Передумал",
                     "Не устроила планировка"]

PAYMENT_FORMS = ["mortgage", "installment", "full_payment", "maternity_capital", "trade_in"]
PAYMENT_FORM_RU = ["Ипотека", "Рассрочка", "100% оплата", "Материнский капитал", "Trade-in"]
PAYMENT_FORM_WEIGHTS = np.array([0.55, 0.20, 0.14, 0.07, 0.04])

# Seasonality of lead volume by month (Jan..Dec) and by weekday (Mon..Sun).
MONTH_FACTOR = np.array([0.75, 0.9, 1.05, 1.05, 0.9, 0.95, 0.9, 0.95, 1.1, 1.1, 1.1, 1.15])
WEEKDAY_FACTOR = np.array([1.05, 1.0, 1.0, 1.0, 0.95, 0.65, 0.5])

# --------------------------------------------------------------------------- projects
# code, name, branch, price per m2 (RUB), buildings, floors
PROJECTS = [
    ("severny_park", "ЖК Северный парк", "Москва", 385_000, 4, 25),
    ("rechnoy_kvartal", "ЖК Речной квартал", "Москва", 310_000, 3, 17),
    ("lesnaya_polyana", "ЖК Лесная поляна", "Подмосковье", 195_000, 6, 12),
    ("zilant", "ЖК Зилант", "Казань", 165_000, 3, 20),
    ("volzhskie_zori", "ЖК Волжские зори", "Казань", 142_000, 5, 16),
    ("nevskaya_gavan", "ЖК Невская гавань", "Санкт-Петербург", 265_000, 3, 18),
]

# account, system, branches with (weight, departments), plan
ACCOUNTS = {
    "b24-msk": ("bitrix24", [("Москва", 0.45, ["Отдел продаж №1", "Отдел продаж №2"]),
                             ("Подмосковье", 0.25, ["Отдел продаж Подмосковье",
                                                   "Отдел по работе с агентами"])], "enterprise"),
    "amo-kzn": ("amocrm", [("Казань", 0.30, ["Отдел продаж Казань", "Отдел ипотечных продаж"])], None),
    "b24-spb": ("bitrix24", [("Санкт-Петербург", 0.20, ["Отдел продаж СПб"])], "standard"),
}
DEFAULT_ACCOUNTS = ["b24-msk", "amo-kzn"]


@dataclass
class Account:
    """One CRM account of the world with its org structure and managers."""

    account: str
    system: str
    plan: str | None
    branches: list[str]
    weight: float
    index: int
    departments: pd.DataFrame  # dept_id, name, branch, branch_dept_id, head_id
    managers: pd.DataFrame  # manager_id, name, first, last, gender, dept_id, department, branch, skill, hired_at, fired_at
    projects: list[int] = field(default_factory=list)  # indexes into PROJECTS
    leads: int = 0
    root_dept_id: int = 1
    admin_id: int = 1


def msk_midnight(d) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=MSK)


def default_as_of() -> datetime:
    now = datetime.now(MSK)
    return msk_midnight(now)


def split_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder split of an integer total by weights (exact and deterministic)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    if rest:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rest]] += 1
    return base


def person_names(rng: np.random.Generator, n: int):
    """Random Russian first/last/patronymic names with gender (vectorised)."""
    female = rng.random(n) < 0.5
    first = np.where(female, FEMALE_FIRST[rng.integers(0, len(FEMALE_FIRST), n)],
                     MALE_FIRST[rng.integers(0, len(MALE_FIRST), n)])
    li = rng.integers(0, len(LAST_BASE), n)
    last = np.where(female, LAST_FEMALE[li], LAST_BASE[li])
    pi = rng.integers(0, len(MALE_PATRONYMIC), n)
    second = np.where(female, FEMALE_PATRONYMIC[pi], MALE_PATRONYMIC[pi])
    return first.astype(object), last.astype(object), second.astype(object), female


def build_world(seed: int, as_of: datetime, months: int, account_names: list[str]) -> list[Account]:
    """Org structure per account; deterministic in (seed, as_of, months, accounts)."""
    rng = np.random.default_rng([seed, 7001])
    start = as_of - timedelta(days=round(months * 30.44))
    t_start, t_end = start.timestamp(), as_of.timestamp()
    accounts: list[Account] = []
    total_w = sum(sum(b[1] for b in ACCOUNTS[a][1]) for a in account_names)
    for idx, name in enumerate(account_names):
        system, branches, plan = ACCOUNTS[name]
        # Bitrix24: department 1 is the company root; branch departments under it, then sales
        # departments under each branch. amoCRM has flat groups (one per sales department).
        dept_rows = []
        next_dept = 2 if system == "bitrix24" else 1
        base_user = 10 if system == "bitrix24" else 7_000_000 + 1000 * idx + 10
        next_user = base_user
        mgr_rows = []
        for bname, _w, depts in branches:
            branch_dept = None
            if system == "bitrix24":
                branch_dept = next_dept
                dept_rows.append((next_dept, f"Филиал {bname}", bname, None, 1))
                next_dept += 1
            for dname in depts:
                dept_id = next_dept if system == "bitrix24" else 100 * (idx + 1) + next_dept
                next_dept += 1
                n_mgr = int(rng.integers(4, 7))
                head = next_user
                dept_rows.append((dept_id, dname, bname, branch_dept, head))
                for k in range(n_mgr):
                    uid = next_user
                    next_user += 1
                    # Two managers per department stay the whole window so no department ever
                    # runs empty; the rest are hired or leave inside it (the churn BI must handle).
                    hired = t_start - rng.uniform(30, 1500) * DAY
                    fired = np.nan
                    if k >= 2:
                        r = rng.random()
                        if r < 0.3:
                            hired = t_start + rng.uniform(0.05, 0.8) * (t_end - t_start)
                        elif r < 0.55:
                            fired = t_start + rng.uniform(0.2, 0.95) * (t_end - t_start)
                    skill = float(np.clip(rng.lognormal(0, 0.3), 0.45, 2.2))
                    mgr_rows.append((uid, dept_id, dname, bname, skill, hired, fired,
                                     "Руководитель отдела продаж" if k == 0 else "Менеджер по продажам"))
        first, last, second, female = person_names(rng, len(mgr_rows))
        managers = pd.DataFrame(mgr_rows, columns=["manager_id", "dept_id", "department", "branch",
                                                   "skill", "hired_at", "fired_at", "position"])
        managers["first"], managers["last"], managers["second"] = first, last, second
        managers["female"] = female
        managers["name"] = managers["first"] + " " + managers["last"]
        departments = pd.DataFrame(dept_rows, columns=["dept_id", "name", "branch", "parent", "head_id"])
        acc = Account(
            account=name, system=system, plan=plan, branches=[b[0] for b in branches],
            weight=sum(b[1] for b in branches) / total_w, index=idx, departments=departments,
            managers=managers,
            projects=[i for i, p in enumerate(PROJECTS) if p[2] in [b[0] for b in branches]],
            admin_id=1 if system == "bitrix24" else 7_000_000 + 1000 * idx + 1,
        )
        accounts.append(acc)
    return accounts


def day_weights(t_start: float, n_days: int) -> np.ndarray:
    """Relative lead volume of each day: weekday shape times seasonality, with mild noise-free
    holiday dips (New Year, May)."""
    days = pd.to_datetime(t_start + np.arange(n_days) * DAY, unit="s", utc=True).tz_convert(MSK)
    w = WEEKDAY_FACTOR[days.weekday] * MONTH_FACTOR[days.month - 1]
    holiday = ((days.month == 1) & (days.day <= 8)) | ((days.month == 5) & (days.day <= 3)) | (
        (days.month == 5) & (days.day >= 8) & (days.day <= 10))
    return np.where(holiday, w * 0.45, w)

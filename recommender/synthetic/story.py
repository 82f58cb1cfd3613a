"""The generative story of the synthetic data, and its parameters.

Clients (``clients``): each organisation has an industry, a segment (B2G for almost all
government and municipal clients, most of education and healthcare, some of energy and
transport), a size band, a region, an account manager (about one per 40 clients), a signup date
and a loyalty tier that grows with tenure and size. Hidden from models, it also has

* a **taste** over six themes (domestic Linux, office suites, security, infrastructure,
  development, IT services), drawn from a Dirichlet around its industry's needs with a low
  concentration, so two hospitals can want very different things;
* a preferred **ecosystem** in each competing product line (Astra / RED OS / ALT; MyOffice / R7;
  Kaspersky / Dr.Web), leaning by segment;
* a **learning propensity** (use of the training centre), a preferred **support level**
  (rising with size) and an **activity** level.

Adoption (``adoption``): a client draws ``Poisson(activity by size x its activity x share of the
window it was active)`` offers without replacement, with probability rising in base
popularity, taste for the offer's theme, ecosystem match, industry need, learning propensity (for
courses) and closeness of a tariff's tier to the preferred level; at most one tier per tariff
family and only offers without prerequisites, at uniform times. Then follow-ups fire, some
weeks after their source and with a probability scaled by the client's taste for the target:

* **funnels** - completing a course raises the chance of buying its service
  (Astra admin course -> Astra support, PostgreSQL DBA1 -> migration to Postgres Pro, ...);
* **bundles** - services used together (migration to Astra -> Astra licences and the admin
  course; MaxPatrol SIEM -> SOC; a tariff -> its add-on such as extra backup storage);
* **prerequisite chains** - a completed course leads on to the course or certification that
  requires it. A target is only added when its prerequisites are met and its family is free.

Churn (``churn``): who leaves and why. Each month a client leaves with a probability that is
higher for a client using **one service** (lower from three on: the "Profi" clients), with
**no course completed**, a low loyalty tier, small size, B2B, and in retail, construction and IT,
times a personal frailty; about 28 % of tariff holders leave within a year. A leaver cancels all
its tariffs within two weeks and adopts nothing more. Most leavers **fade** first (usage falls
over 3-7 months, more downgrades at renewal); the others leave abruptly; and a quarter of the
clients that stay go through a temporary dip of the same depth, so falling usage is evidence,
not proof.

Lifecycle (``lifecycle``): a course enrolment is completed with a probability rising with the
learning propensity. A tariff starts, renews every 180 days and at each renewal may be
cancelled (a single service dropped: 5 % .. 1.5 % a period by loyalty), upgraded to the next
tier or downgraded to the one below (a cancellation, then the new tier's start a minute later),
so a family never holds two active tariffs; add-ons that require a tariff are bought while it
is active. Views precede half of the adoptions and clients browse a few offers they find
interesting; active tariffs report usage about once a month.

Values: purchase = quantity (seats for licences, else 1); subscription_start and renewal = the
period's payment in roubles; enrolment and completion = participants; usage = units used;
view and cancellation = 1.

Because taste and ecosystem are personal and follow-ups link offers to each other, what a
client already owns predicts what it buys next far better than its industry or segment does.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Share of clients per industry (same order as ``recommender.domain.INDUSTRIES``).
INDUSTRY_WEIGHTS: dict[str, float] = {
    "government": 0.12, "education": 0.11, "healthcare": 0.09, "finance": 0.08,
    "manufacturing": 0.12, "retail": 0.10, "energy": 0.06, "transport": 0.06, "it": 0.08,
    "municipal_services": 0.07, "telecom": 0.05, "construction": 0.06,
}  # fmt: skip
#: Probability that a client of the industry is a B2G (state) organisation.
B2G_SHARE: dict[str, float] = {
    "government": 1.0, "municipal_services": 1.0, "education": 0.8, "healthcare": 0.7,
    "energy": 0.3, "transport": 0.3, "finance": 0.05, "manufacturing": 0.1, "retail": 0.0,
    "it": 0.03, "telecom": 0.1, "construction": 0.05,
}  # fmt: skip
#: Industry needs: the Dirichlet mean of a client's taste over ``catalog.THEMES``
#: (linux, office, security, infra, dev, service).
INDUSTRY_THEMES: dict[str, tuple[float, ...]] = {
    "government": (3.0, 3.0, 3.0, 1.0, 0.4, 1.0),
    "municipal_services": (2.0, 3.0, 1.5, 1.0, 0.3, 2.5),
    "education": (2.5, 2.5, 0.8, 1.0, 2.0, 1.0),
    "healthcare": (1.5, 1.5, 2.5, 2.0, 0.5, 2.0),
    "finance": (1.0, 1.0, 4.0, 2.0, 2.0, 1.0),
    "manufacturing": (1.5, 1.0, 2.0, 2.5, 1.0, 2.0),
    "retail": (0.5, 1.5, 1.5, 2.0, 1.5, 2.5),
    "energy": (2.0, 1.0, 3.0, 2.5, 1.0, 1.0),
    "transport": (1.5, 1.0, 2.5, 2.0, 1.0, 2.0),
    "it": (2.0, 0.5, 1.5, 2.5, 4.0, 0.5),
    "telecom": (1.5, 0.5, 2.5, 3.0, 2.0, 1.0),
    "construction": (1.0, 2.0, 1.0, 1.5, 0.5, 3.0),
}
#: Which ecosystem of a product line clients of a segment lean to (weights, drawn per client).
ECOSYSTEMS: dict[str, dict[str, tuple[float, ...]]] = {
    "os": {"B2G": (0.55, 0.25, 0.20), "B2B": (0.35, 0.45, 0.20)},  # astra, redos, alt
    "office": {"B2G": (0.65, 0.35), "B2B": (0.40, 0.60)},  # myoffice, r7
    "av": {"B2G": (0.70, 0.30), "B2B": (0.55, 0.45)},  # kaspersky, drweb
}
ECOSYSTEM_MEMBERS: dict[str, tuple[str, ...]] = {
    "os": ("astra", "redos", "alt"),
    "office": ("myoffice", "r7"),
    "av": ("kaspersky", "drweb"),
}
SIZE_WEIGHTS: dict[str, tuple[float, ...]] = {
    "B2B": (0.25, 0.32, 0.25, 0.13, 0.05),
    "B2G": (0.10, 0.30, 0.33, 0.20, 0.07),
}
#: Mean number of offers a client adopts on its own over two years, by size band.
SIZE_ACTIVITY: tuple[float, ...] = (3.0, 4.0, 5.5, 7.0, 9.0)
#: Seats (licences, participants) a client buys at once, by size band.
SIZE_SEATS: tuple[float, ...] = (3.0, 10.0, 40.0, 150.0, 600.0)
#: Region names and their share of clients.
REGIONS: dict[str, float] = {
    "Москва": 0.22, "Санкт-Петербург": 0.10, "Московская область": 0.08,
    "Республика Татарстан": 0.05, "Свердловская область": 0.05, "Новосибирская область": 0.04,
    "Нижегородская область": 0.04, "Краснодарский край": 0.04, "Республика Башкортостан": 0.04,
    "Самарская область": 0.04, "Ростовская область": 0.04, "Челябинская область": 0.03,
    "Пермский край": 0.03, "Красноярский край": 0.03, "Воронежская область": 0.03,
    "Тюменская область": 0.03, "Иркутская область": 0.02, "Хабаровский край": 0.02,
    "Приморский край": 0.02, "Калининградская область": 0.02, "Омская область": 0.02,
    "Ханты-Мансийский АО — Югра": 0.01,
}  # fmt: skip
CLIENTS_PER_MANAGER = 40
#: A single tariff dropped at a renewal (the client stays), by loyalty tier; whole-client
#: churn is the ``CHURN_*`` hazard below (``recommender.synthetic.churn``).
CANCEL_PER_PERIOD: tuple[float, ...] = (0.05, 0.035, 0.025, 0.015)
UPGRADE_PER_PERIOD = 0.07
#: A tariff moved one tier down at a renewal; far likelier while usage fades (ramp or dip).
DOWNGRADE_PER_PERIOD = 0.03
DOWNGRADE_WARNED = 0.30
BILLING_PERIOD_DAYS = 180.0
#: Usage reports of an active tariff: one per this many days on average.
USAGE_REPORT_DAYS = 30.0

# Client churn: monthly log-odds of leaving = base + the terms below + frailty.
CHURN_BASE_LOGIT = -3.4
CHURN_ONE_SERVICE = 0.9  # one service (or none yet) in use
CHURN_PER_SERVICE = -0.12  # each service in use, up to six
CHURN_PROFI = -0.5  # three services or more: the "Profi" programme's clients
CHURN_NO_COURSE = 0.5  # no course completed yet
#: By loyalty tier (bronze .. platinum) and size band (micro .. enterprise).
CHURN_LOYALTY: tuple[float, ...] = (0.5, 0.2, -0.2, -0.5)
CHURN_SIZE: tuple[float, ...] = (0.4, 0.2, 0.0, -0.2, -0.4)
CHURN_B2G = -0.4
#: By industry, in the order of ``recommender.domain.INDUSTRIES``.
CHURN_INDUSTRY: tuple[float, ...] = (
    -0.3, -0.1, -0.1, 0.0, 0.0, 0.4, -0.2, 0.0, 0.3, -0.2, 0.1, 0.3,
)  # fmt: skip
CHURN_FRAILTY_SD = 0.8  # personal log-odds noise
CHURN_WARNING_P = 0.7  # leavers whose usage fades first; the rest leave abruptly
CHURN_RAMP_DAYS: tuple[float, float] = (90.0, 210.0)  # length of the fade, uniform
CHURN_FLOOR: tuple[float, float] = (0.1, 0.4)  # usage at the end of a fade (or dip bottom)
DIP_P = 0.25  # clients that stay but go through a temporary dip in usage
DIP_DAYS: tuple[float, float] = (60.0, 150.0)


@dataclass(frozen=True)
class Trigger:
    """Owning ``source`` (a completed course, or any other offer) leads to ``target``.

    Fires with probability ``p`` scaled by the client's taste for the target, ``lag_days``
    (mean of an exponential) after the source. Course -> service rules are the funnels, the
    others are bundles (services used together) and prerequisite chains.
    """

    source: str
    target: str
    p: float
    lag_days: float = 45.0


#: Funnels: completing a course raises the chance of buying the related service.
FUNNELS: tuple[Trigger, ...] = (
    Trigger("c_astra_admin1", "astra_support_standard", 0.40),
    Trigger("c_astra_admin1", "mig_win_astra", 0.30),
    Trigger("c_redos_admin", "redos_support_standard", 0.40),
    Trigger("c_redos_admin", "mig_win_redos", 0.30),
    Trigger("c_alt_admin", "alt_support_standard", 0.40),
    Trigger("c_myoffice_admin", "myoffice_sub_standard", 0.40),
    Trigger("c_r7_admin", "r7_sub_standard", 0.40),
    Trigger("c_kes_admin", "lic_kes", 0.45),
    Trigger("c_siem_operator", "lic_maxpatrol_siem", 0.35),
    Trigger("c_infowatch_admin", "lic_infowatch_tm", 0.35),
    Trigger("c_pg_dba1", "mig_db_postgres", 0.30),
    Trigger("c_pg_dba1", "postgres_support_standard", 0.30),
    Trigger("c_zabbix", "monitoring_service_standard", 0.40),
    Trigger("c_backup_admin", "backup_service_standard", 0.35),
    Trigger("c_itil4", "servicedesk_impl", 0.35),
    Trigger("c_helpdesk", "it_outsourcing_standard", 0.30),
    Trigger("c_pdn_152fz", "audit_152fz", 0.40),
    Trigger("c_kii_187fz", "kii_categorization", 0.45),
    Trigger("c_virtualization", "zvirt_impl", 0.30),
    Trigger("c_devops_k8s", "vdi_service_standard", 0.15),
    Trigger("w_import_os", "c_linux_users", 0.30, 20.0),
    Trigger("w_office_migration", "mig_exchange_mail", 0.20),
    Trigger("w_security_awareness", "c_pdn_152fz", 0.25, 30.0),
    Trigger("w_backup_321", "backup_service_basic", 0.30),
    Trigger("w_fstec_news", "attestation_gis", 0.30),
)
#: Bundles: offers that are used together.
BUNDLES: tuple[Trigger, ...] = (
    Trigger("mig_win_astra", "lic_astra_se", 0.75, 10.0),
    Trigger("mig_win_astra", "c_astra_admin1", 0.45, 30.0),
    Trigger("mig_win_redos", "lic_redos", 0.75, 10.0),
    Trigger("mig_win_redos", "c_redos_admin", 0.45, 30.0),
    Trigger("mig_win_alt", "lic_alt", 0.75, 10.0),
    Trigger("mig_win_alt", "c_alt_admin", 0.45, 30.0),
    Trigger("lic_ald_pro", "c_ald_pro", 0.50, 30.0),
    Trigger("mig_office_myoffice", "lic_myoffice_mail", 0.50, 20.0),
    Trigger("mig_office_myoffice", "c_myoffice_users", 0.55, 20.0),
    Trigger("mig_office_r7", "c_r7_users", 0.55, 20.0),
    Trigger("myoffice_sub_standard", "c_myoffice_admin", 0.35),
    Trigger("r7_sub_standard", "c_r7_admin", 0.35),
    Trigger("lic_kes", "c_kes_admin", 0.30),
    Trigger("lic_maxpatrol_siem", "soc_service_standard", 0.35),
    Trigger("lic_maxpatrol_siem", "c_siem_operator", 0.45, 30.0),
    Trigger("lic_infowatch_tm", "c_infowatch_admin", 0.45, 30.0),
    Trigger("mig_db_postgres", "lic_postgres_pro", 0.70, 10.0),
    Trigger("lic_cyber_backup", "c_backup_admin", 0.40, 30.0),
    Trigger("attestation_gis", "lic_secret_net", 0.60, 20.0),
    Trigger("kii_categorization", "lic_kics", 0.30),
    Trigger("kii_categorization", "c_kii_187fz", 0.40, 30.0),
    Trigger("it_audit", "it_outsourcing_standard", 0.30),
    Trigger("it_audit", "monitoring_service_basic", 0.25),
    Trigger("astra_support_standard", "astra_onsite", 0.35),
    Trigger("it_outsourcing_standard", "onsite_engineer", 0.30),
    Trigger("backup_service_standard", "backup_extra_tb", 0.45),
    Trigger("monitoring_service_standard", "monitoring_extra_nodes", 0.40),
    Trigger("vdi_service_standard", "vdi_extra_seats", 0.45),
    Trigger("soc_service_standard", "soc_extra_sources", 0.35),
)
#: A completed course leads on to the course that requires it with this probability
#: (scaled by the client's learning propensity).
NEXT_COURSE_P = 0.45

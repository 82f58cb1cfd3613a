"""The synthetic offer catalog: tariffs, courses and add-on services of a Russian IT integrator.

Besides the public ``ITEM_COLUMNS`` every offer carries hidden generator attributes that the
story uses and models never see: its *theme* (one of ``THEMES``, the latent taste factors), an
optional *ecosystem* (competing vendors of one product line, e.g. ``os:astra`` vs ``os:redos``),
the industries that need it most, a tier inside its tariff family and a base popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from recommender.domain import ITEM_COLUMNS

#: Latent taste factors: what a client's IT agenda is about.
THEMES: tuple[str, ...] = ("linux", "office", "security", "infra", "dev", "service")
TIER_IDS: tuple[str, ...] = ("basic", "standard", "premium", "24x7")
TIER_NAMES: tuple[str, ...] = ("Базовый", "Стандарт", "Премиум", "24x7")


@dataclass(frozen=True)
class Offer:
    """One catalog offer with the hidden attributes of the generative story."""

    item_id: str
    name: str
    kind: str
    price: float
    margin: float
    vendor: str
    theme: str
    tags: tuple[str, ...] = ()
    family: str | None = None
    tier: int = -1
    eligibility: str = "both"
    prerequisites: tuple[str, ...] = ()
    ecosystem: str | None = None
    industries: tuple[str, ...] = ()
    base: float = 1.0
    duration_days: float = 0.0


def _family(
    family: str,
    title: str,
    prices: tuple[float, ...],
    *,
    vendor: str,
    theme: str,
    tags: tuple[str, ...],
    ecosystem: str | None = None,
    industries: tuple[str, ...] = (),
    tiers: tuple[str, ...] = TIER_IDS,
    eligibility: str = "both",
    base: float = 1.0,
) -> list[Offer]:
    """A tariff family: tiers ``<family>_<tier>`` with rising price and margin.

    ``tier`` is the global support level (0 = basic .. 3 = 24x7), so that a family starting at
    ``standard`` still lines up with the others when clients choose a level by their size.
    """
    return [
        Offer(
            item_id=f"{family}_{tier}",
            name=f"{title} «{TIER_NAMES[TIER_IDS.index(tier)]}»",
            kind="tariff",
            price=price,
            margin=round(0.30 + 0.04 * TIER_IDS.index(tier), 2),
            vendor=vendor,
            theme=theme,
            tags=("tariff", *tags),
            family=family,
            tier=TIER_IDS.index(tier),
            eligibility=eligibility,
            ecosystem=ecosystem,
            industries=industries,
            base=base,
        )
        for tier, price in zip(tiers, prices, strict=True)
    ]


_GOV = ("government", "municipal_services")
_KII = ("energy", "transport", "healthcare", "finance", "telecom")
_IND = ("energy", "manufacturing", "transport")

TARIFFS: list[Offer] = [
    *_family("astra_support", "Техподдержка Astra Linux", (30e3, 60e3, 120e3, 220e3),
             vendor="astra", theme="linux", tags=("os", "support"), ecosystem="os:astra",
             industries=_GOV, tiers=TIER_IDS, base=1.6),
    *_family("redos_support", "Техподдержка РЕД ОС", (25e3, 50e3, 100e3),
             vendor="redsoft", theme="linux", tags=("os", "support"), ecosystem="os:redos",
             tiers=TIER_IDS[:3], base=1.2),
    *_family("alt_support", "Техподдержка ОС Альт", (20e3, 45e3, 90e3),
             vendor="basealt", theme="linux", tags=("os", "support"), ecosystem="os:alt",
             industries=("education",), tiers=TIER_IDS[:3], base=1.0),
    *_family("myoffice_sub", "Подписка МойОфис", (9e3, 18e3, 40e3),
             vendor="myoffice", theme="office", tags=("office", "subscription"),
             ecosystem="office:myoffice", industries=_GOV, tiers=TIER_IDS[:3], base=1.4),
    *_family("r7_sub", "Подписка Р7-Офис", (8e3, 16e3, 35e3),
             vendor="r7", theme="office", tags=("office", "subscription"),
             ecosystem="office:r7", tiers=TIER_IDS[:3], base=1.2),
    *_family("it_outsourcing", "ИТ-аутсорсинг", (80e3, 160e3, 300e3, 520e3),
             vendor="integrator", theme="service", tags=("outsourcing", "support"),
             industries=("retail", "construction", "municipal_services"), tiers=TIER_IDS, base=1.5),
    *_family("vdi_service", "Виртуальные рабочие места (VDI)", (45e3, 150e3, 480e3),
             vendor="integrator", theme="infra", tags=("vdi", "cloud"),
             industries=("finance", "it"), tiers=TIER_IDS[:3], base=0.8),
    *_family("monitoring_service", "Мониторинг ИТ-инфраструктуры", (15e3, 40e3, 90e3),
             vendor="integrator", theme="infra", tags=("monitoring", "cloud"),
             industries=("telecom", "energy"), tiers=TIER_IDS[:3], base=1.3),
    *_family("backup_service", "Резервное копирование как услуга", (12e3, 45e3, 150e3),
             vendor="cyberprotect", theme="infra", tags=("backup", "cloud"),
             industries=("healthcare", "retail"), tiers=TIER_IDS[:3], base=1.3),
    *_family("soc_service", "SOC: мониторинг инцидентов ИБ", (120e3, 250e3, 450e3),
             vendor="positive", theme="security", tags=("security", "soc"),
             industries=("finance", *_IND), tiers=TIER_IDS[1:], base=0.9),
    *_family("postgres_support", "Техподдержка Postgres Pro", (70e3, 140e3, 260e3),
             vendor="postgrespro", theme="dev", tags=("dbms", "support"),
             industries=("finance", "it", "telecom"), tiers=TIER_IDS[1:], base=0.9),
]  # fmt: skip


def _addon(
    item_id: str,
    name: str,
    price: float,
    vendor: str,
    theme: str,
    *tags: str,
    prerequisites: tuple[str, ...] = (),
    ecosystem: str | None = None,
    industries: tuple[str, ...] = (),
    eligibility: str = "both",
    base: float = 1.0,
) -> Offer:
    """An add-on: own services carry a higher margin than resold partner products."""
    margin = 0.45 if vendor == "integrator" else 0.25
    return Offer(
        item_id, name, "addon", price, margin, vendor, theme, ("addon", *tags),
        eligibility=eligibility, prerequisites=prerequisites, ecosystem=ecosystem,
        industries=industries, base=base,
    )  # fmt: skip


ADDONS: list[Offer] = [
    _addon("mig_win_astra", "Миграция рабочих мест с Windows на Astra Linux", 450e3, "integrator",
           "linux", "migration", "os", ecosystem="os:astra", industries=_GOV, base=1.4),
    _addon("mig_win_redos", "Миграция рабочих мест с Windows на РЕД ОС", 420e3, "integrator",
           "linux", "migration", "os", ecosystem="os:redos", base=1.1),
    _addon("mig_win_alt", "Миграция рабочих мест с Windows на ОС Альт", 380e3, "integrator",
           "linux", "migration", "os", ecosystem="os:alt", industries=("education",)),
    _addon("lic_astra_se", "Лицензия Astra Linux Special Edition (1 АРМ)", 18e3, "astra",
           "linux", "licence", "os", ecosystem="os:astra", industries=_GOV, base=1.5),
    _addon("lic_redos", "Лицензия РЕД ОС Рабочая станция (1 АРМ)", 12e3, "redsoft",
           "linux", "licence", "os", ecosystem="os:redos", base=1.2),
    _addon("lic_alt", "Лицензия Альт Рабочая станция (1 АРМ)", 9e3, "basealt",
           "linux", "licence", "os", ecosystem="os:alt", industries=("education",)),
    _addon("lic_ald_pro", "Лицензия ALD Pro: служба каталогов", 95e3, "astra",
           "linux", "licence", "directory", ecosystem="os:astra"),
    _addon("astra_onsite", "Выезд инженера Astra Linux (пакет 10 часов)", 40e3, "integrator",
           "linux", "onsite", prerequisites=("astra_support_standard",)),
    _addon("mig_office_myoffice", "Миграция документов и шаблонов на МойОфис", 220e3,
           "integrator", "office", "migration", "office", ecosystem="office:myoffice",
           industries=_GOV),
    _addon("mig_office_r7", "Миграция документов и шаблонов на Р7-Офис", 200e3, "integrator",
           "office", "migration", "office", ecosystem="office:r7"),
    _addon("mig_exchange_mail", "Миграция почты с MS Exchange на отечественную почту", 260e3,
           "integrator", "office", "migration", "mail"),
    _addon("lic_myoffice_mail", "МойОфис Почта (лицензия на 1 ящик)", 3e3, "myoffice",
           "office", "licence", "mail", ecosystem="office:myoffice"),
    _addon("lic_trueconf", "Сервер видеоконференций TrueConf (лицензия)", 150e3, "trueconf",
           "office", "licence", "vks"),
    _addon("lic_kes", "Kaspersky Endpoint Security для бизнеса (1 узел)", 4e3, "kaspersky",
           "security", "licence", "antivirus", ecosystem="av:kaspersky", base=1.8),
    _addon("lic_drweb", "Dr.Web Enterprise Security Suite (1 узел)", 3.5e3, "drweb",
           "security", "licence", "antivirus", ecosystem="av:drweb", base=1.2),
    _addon("lic_kics", "Kaspersky Industrial CyberSecurity", 900e3, "kaspersky", "security",
           "licence", "ics", industries=_IND, eligibility="B2B", base=0.6),
    _addon("lic_maxpatrol_siem", "MaxPatrol SIEM", 2.5e6, "positive", "security",
           "licence", "siem", industries=("finance", "energy", "telecom"), base=0.7),
    _addon("lic_maxpatrol_vm", "MaxPatrol VM: управление уязвимостями", 1.2e6, "positive",
           "security", "licence", "vulnerability", base=0.7),
    _addon("lic_pt_af", "PT Application Firewall", 1.6e6, "positive", "security",
           "licence", "waf", industries=("finance", "retail"), base=0.5),
    _addon("lic_infowatch_tm", "InfoWatch Traffic Monitor (DLP)", 1.1e6, "infowatch",
           "security", "licence", "dlp", industries=("finance", "government"), base=0.7),
    _addon("lic_infowatch_arma", "InfoWatch ARMA Industrial Firewall", 800e3, "infowatch",
           "security", "licence", "ics", industries=_IND, eligibility="B2B", base=0.5),
    _addon("lic_secret_net", "Secret Net Studio: защита от НСД (1 АРМ)", 7e3, "securitycode",
           "security", "licence", "fstec", industries=_GOV, eligibility="B2G"),
    _addon("audit_152fz", "Аудит соответствия 152-ФЗ (персональные данные)", 350e3,
           "integrator", "security", "audit", "compliance",
           industries=("healthcare", "finance", "education", "retail")),
    _addon("attestation_gis", "Аттестация ГИС по требованиям ФСТЭК", 600e3, "integrator",
           "security", "audit", "fstec", industries=_GOV, eligibility="B2G", base=1.2),
    _addon("kii_categorization", "Категорирование объектов КИИ (187-ФЗ)", 500e3, "integrator",
           "security", "audit", "compliance", industries=_KII, base=0.9),
    _addon("pentest", "Тестирование на проникновение", 700e3, "integrator", "security",
           "audit", industries=("finance", "it", "retail"), base=0.6),
    _addon("soc_extra_sources", "SOC: подключение дополнительных источников (+50)", 90e3,
           "positive", "security", "soc", prerequisites=("soc_service_standard",)),
    _addon("lic_cyber_backup", "Кибер Бэкап (лицензия на сервер)", 60e3, "cyberprotect",
           "infra", "licence", "backup", base=1.1),
    _addon("backup_extra_tb", "Резервное копирование: дополнительный 1 ТБ", 4e3,
           "integrator", "infra", "backup", prerequisites=("backup_service_standard",)),
    _addon("monitoring_extra_nodes", "Мониторинг: +50 узлов", 12e3, "integrator", "infra",
           "monitoring", prerequisites=("monitoring_service_standard",)),
    _addon("vdi_extra_seats", "VDI: +10 рабочих мест", 30e3, "integrator", "infra", "vdi",
           prerequisites=("vdi_service_standard",)),
    _addon("zvirt_impl", "Внедрение платформы виртуализации zVirt", 550e3, "orionsoft",
           "infra", "virtualization", industries=("telecom", "it", "energy"), base=0.7),
    _addon("it_audit", "Обследование ИТ-инфраструктуры", 180e3, "integrator", "service",
           "audit", base=1.3),
    _addon("servicedesk_impl", "Внедрение Service Desk (ITSM)", 400e3, "integrator",
           "service", "itsm", industries=("retail", "municipal_services", "construction")),
    _addon("onsite_engineer", "Выделенный инженер на площадке клиента (месяц)", 210e3,
           "integrator", "service", "onsite", prerequisites=("it_outsourcing_standard",)),
    _addon("lic_postgres_pro", "Лицензия Postgres Pro Enterprise (1 сервер)", 450e3,
           "postgrespro", "dev", "licence", "dbms", industries=("finance", "it")),
    _addon("mig_db_postgres", "Миграция БД с Oracle / MS SQL на Postgres Pro", 900e3,
           "integrator", "dev", "migration", "dbms", industries=("finance", "telecom")),
]  # fmt: skip


def _course(
    item_id: str,
    name: str,
    price: float,
    theme: str,
    *tags: str,
    prerequisites: tuple[str, ...] = (),
    ecosystem: str | None = None,
    industries: tuple[str, ...] = (),
    eligibility: str = "both",
    base: float = 1.0,
) -> Offer:
    """A training-centre offer: a course, a free webinar (``w_``) or a certification (``cert_``)."""
    if item_id.startswith("w_"):
        kind_tag, duration = "webinar", 0.1
    elif item_id.startswith("cert_"):
        kind_tag, duration = "certification", 1.0
    else:
        kind_tag, duration = "course", 5.0
    return Offer(
        item_id, name, "course", price, 0.55 if price else 0.0, "training_center", theme,
        (kind_tag, *tags), eligibility=eligibility, prerequisites=prerequisites,
        ecosystem=ecosystem, industries=industries, base=base, duration_days=duration,
    )  # fmt: skip


COURSES: list[Offer] = [
    _course("c_linux_users", "Курс: работа пользователя в Linux", 15e3, "linux", "users"),
    _course("c_astra_admin1", "Курс: Astra Linux. Администрирование (базовый)", 45e3, "linux",
            "admin", ecosystem="os:astra", base=1.4),
    _course("c_astra_admin2", "Курс: Astra Linux. Администрирование (продвинутый)", 55e3,
            "linux", "admin", ecosystem="os:astra", prerequisites=("c_astra_admin1",)),
    _course("cert_astra", "Сертификация: администратор Astra Linux", 12e3, "linux", "admin",
            ecosystem="os:astra", prerequisites=("c_astra_admin2",)),
    _course("c_ald_pro", "Курс: ALD Pro. Служба каталогов", 50e3, "linux", "directory",
            ecosystem="os:astra", prerequisites=("c_astra_admin1",)),
    _course("c_redos_admin", "Курс: РЕД ОС. Администрирование", 42e3, "linux", "admin",
            ecosystem="os:redos", base=1.1),
    _course("cert_redos", "Сертификация: специалист РЕД ОС", 10e3, "linux", "admin",
            ecosystem="os:redos", prerequisites=("c_redos_admin",)),
    _course("c_alt_admin", "Курс: ОС Альт. Администрирование", 38e3, "linux", "admin",
            ecosystem="os:alt", industries=("education",)),
    _course("w_import_os", "Вебинар: импортозамещение ОС — с чего начать", 0.0, "linux",
            "import_substitution", base=1.8),
    _course("c_myoffice_users", "Курс: МойОфис для пользователей", 12e3, "office", "users",
            ecosystem="office:myoffice", base=1.3),
    _course("c_myoffice_admin", "Курс: МойОфис. Администрирование", 40e3, "office", "admin",
            ecosystem="office:myoffice"),
    _course("cert_myoffice", "Сертификация: администратор МойОфис", 10e3, "office", "admin",
            ecosystem="office:myoffice", prerequisites=("c_myoffice_admin",)),
    _course("c_r7_users", "Курс: Р7-Офис для пользователей", 11e3, "office", "users",
            ecosystem="office:r7", base=1.2),
    _course("c_r7_admin", "Курс: Р7-Офис. Администрирование", 36e3, "office", "admin",
            ecosystem="office:r7"),
    _course("w_office_migration", "Вебинар: переход на отечественный офисный пакет", 0.0,
            "office", "import_substitution", base=1.6),
    _course("w_security_awareness", "Вебинар: основы ИБ для сотрудников", 0.0, "security",
            "awareness", base=1.8),
    _course("c_kes_admin", "Курс: Kaspersky Endpoint Security. Администрирование", 48e3,
            "security", "admin", ecosystem="av:kaspersky"),
    _course("cert_kes", "Сертификация: Kaspersky Certified Professional", 15e3, "security",
            "admin", ecosystem="av:kaspersky", prerequisites=("c_kes_admin",)),
    _course("c_siem_operator", "Курс: MaxPatrol SIEM. Оператор", 60e3, "security", "siem",
            industries=("finance", "energy", "telecom")),
    _course("c_siem_expert", "Курс: MaxPatrol SIEM. Эксперт", 75e3, "security", "siem",
            prerequisites=("c_siem_operator",)),
    _course("c_pdn_152fz", "Курс: защита персональных данных (152-ФЗ)", 35e3, "security",
            "compliance", industries=("healthcare", "education", "retail", "finance")),
    _course("c_kii_187fz", "Курс: безопасность значимых объектов КИИ (187-ФЗ)", 45e3,
            "security", "compliance", industries=_KII),
    _course("c_infowatch_admin", "Курс: InfoWatch Traffic Monitor. Администрирование", 52e3,
            "security", "dlp"),
    _course("w_fstec_news", "Вебинар: новое в требованиях ФСТЭК", 0.0, "security", "fstec",
            eligibility="B2G", industries=_GOV, base=1.5),
    _course("c_backup_admin", "Курс: Кибер Бэкап. Администрирование", 40e3, "infra", "backup"),
    _course("c_zabbix", "Курс: мониторинг инфраструктуры на Zabbix", 42e3, "infra",
            "monitoring", base=1.1),
    _course("c_virtualization", "Курс: виртуализация на отечественных платформах", 50e3,
            "infra", "virtualization"),
    _course("w_backup_321", "Вебинар: резервное копирование по правилу 3-2-1", 0.0, "infra",
            "backup", base=1.5),
    _course("c_pg_dba1", "Курс: PostgreSQL. Администрирование (DBA1)", 46e3, "dev", "dbms",
            base=1.3),
    _course("c_pg_dba2", "Курс: PostgreSQL. Администрирование (DBA2)", 58e3, "dev", "dbms",
            prerequisites=("c_pg_dba1",)),
    _course("cert_pg", "Сертификация: Postgres Pro Professional", 15e3, "dev", "dbms",
            prerequisites=("c_pg_dba2",)),
    _course("c_python_auto", "Курс: Python для автоматизации администрирования", 44e3, "dev",
            "automation"),
    _course("c_devops_k8s", "Курс: DevOps. Docker и Kubernetes", 62e3, "dev", "devops",
            industries=("it", "telecom", "finance")),
    _course("c_k8s_adv", "Курс: Kubernetes. Продвинутый уровень", 70e3, "dev", "devops",
            prerequisites=("c_devops_k8s",)),
    _course("c_ansible", "Курс: Ansible. Автоматизация конфигураций", 40e3, "dev",
            "automation"),
    _course("c_itil4", "Курс: ITIL 4 Foundation", 38e3, "service", "itsm", base=1.1),
    _course("cert_itil4", "Сертификация: ITIL 4 Foundation", 20e3, "service", "itsm",
            prerequisites=("c_itil4",)),
    _course("c_helpdesk", "Курс: организация службы поддержки пользователей", 30e3,
            "service", "itsm"),
]  # fmt: skip

OFFERS: tuple[Offer, ...] = (*TARIFFS, *ADDONS, *COURSES)


def catalog_frame(offers: tuple[Offer, ...] = OFFERS) -> pd.DataFrame:
    """The public catalog: columns exactly ``ITEM_COLUMNS``, lists for prerequisites and tags."""
    rows = [
        {
            "item_id": o.item_id,
            "name": o.name,
            "kind": o.kind,
            "family": o.family,
            "price": float(o.price),
            "margin": float(o.margin),
            "eligibility": o.eligibility,
            "prerequisites": list(o.prerequisites),
            "vendor": o.vendor,
            "tags": list(o.tags),
        }
        for o in offers
    ]
    frame = pd.DataFrame(rows, columns=list(ITEM_COLUMNS))
    frame["family"] = pd.Series([o.family for o in offers], dtype=object)  # None, not NaN
    return frame

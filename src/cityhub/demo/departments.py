"""The 49 providers of Jiaxing's big data center: municipal departments (委办局), the courts, and
the enterprises that run the city's utilities and networks. Codes are stable: 330400 (the city's
division code) and a short pinyin abbreviation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    name_en: str
    kind: str = "government"

    def entry(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "name_en": self.name_en, "kind": self.kind}


def _d(abbr: str, name: str, name_en: str, kind: str = "government") -> Department:
    return Department(f"330400-{abbr}", name, name_en, kind)


DEPARTMENTS = [
    _d("FGW", "市发改委", "Development and Reform Commission"),
    _d("JXW", "市经信局", "Bureau of Economy and Information Technology"),
    _d("JY", "市教育局", "Education Bureau"),
    _d("KJ", "市科技局", "Science and Technology Bureau"),
    _d("GA", "市公安局", "Public Security Bureau"),
    _d("MZ", "市民政局", "Civil Affairs Bureau"),
    _d("SF", "市司法局", "Justice Bureau"),
    _d("CZ", "市财政局", "Finance Bureau"),
    _d("RS", "市人力社保局", "Human Resources and Social Security Bureau"),
    _d("ZRZY", "市自然资源和规划局", "Natural Resources and Planning Bureau"),
    _d("STHJ", "市生态环境局", "Ecology and Environment Bureau"),
    _d("JS", "市住建局", "Housing and Urban-Rural Development Bureau"),
    _d("JT", "市交通运输局", "Transport Bureau"),
    _d("SL", "市水利局", "Water Resources Bureau"),
    _d("NY", "市农业农村局", "Agriculture and Rural Affairs Bureau"),
    _d("SW", "市商务局", "Commerce Bureau"),
    _d("WGL", "市文化广电旅游局", "Culture, Radio, Television and Tourism Bureau"),
    _d("WJW", "市卫健委", "Health Commission"),
    _d("TYJ", "市退役军人事务局", "Veterans Affairs Bureau"),
    _d("YJ", "市应急管理局", "Emergency Management Bureau"),
    _d("SJ", "市审计局", "Audit Bureau"),
    _d("SCJG", "市市场监管局", "Administration for Market Regulation"),
    _d("TJ", "市统计局", "Statistics Bureau"),
    _d("TY", "市体育局", "Sports Bureau"),
    _d("YB", "市医保局", "Healthcare Security Administration"),
    _d("ZHZF", "市综合行政执法局", "Comprehensive Administrative Law Enforcement Bureau"),
    _d("DSJ", "市大数据局", "Big Data Bureau (Data Resources Administration)"),
    _d("ZFB", "市政务服务办", "Government Services Office (12345 hotline)"),
    _d("QX", "市气象局", "Meteorological Bureau"),
    _d("SWJ", "市税务局", "Taxation Bureau"),
    _d("DAG", "市档案馆", "Municipal Archives"),
    _d("XF", "市消防救援支队", "Fire and Rescue Detachment"),
    _d("FY", "市中级人民法院", "Intermediate People's Court"),
    _d("JCY", "市人民检察院", "People's Procuratorate"),
    _d("GJJ", "市住房公积金管理中心", "Housing Provident Fund Management Center"),
    _d("RF", "市人防办", "Civil Air Defence Office"),
    _d("MZZJ", "市民族宗教事务局", "Ethnic and Religious Affairs Bureau"),
    _d("GZW", "市国资委", "State-owned Assets Supervision Commission"),
    _d("XFJ", "市信访局", "Letters and Calls Bureau"),
    _d("JGSW", "市机关事务管理局", "Government Offices Administration"),
    _d("CL", "市残联", "Disabled Persons' Federation"),
    _d("HG", "嘉兴海关", "Jiaxing Customs"),
    _d("GDGS", "国网嘉兴供电公司", "State Grid Jiaxing Power Supply Company", "enterprise"),
    _d("SWJT", "嘉兴市水务集团", "Jiaxing Water Group", "enterprise"),
    _d("GJJT", "嘉兴市公交集团", "Jiaxing Public Transport Group", "enterprise"),
    _d("RQJT", "嘉兴市燃气集团", "Jiaxing Gas Group", "enterprise"),
    _d("YD", "中国移动嘉兴分公司", "China Mobile Jiaxing Branch", "enterprise"),
    _d("LT", "中国联通嘉兴市分公司", "China Unicom Jiaxing Branch", "enterprise"),
    _d("DX", "中国电信嘉兴分公司", "China Telecom Jiaxing Branch", "enterprise"),
]
BY_CODE = {d.code: d for d in DEPARTMENTS}

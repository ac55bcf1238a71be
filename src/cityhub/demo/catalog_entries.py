"""The datasets the center has cataloged but not yet connected, as their providers described them.

One paragraph per dataset: a head line `DEPT 名称 | English name | subject cycle share+open`, then
the fields particular to it. The subject (p person, f enterprise, l place/facility, e event or
matter, s statistics, c licence or certificate, k case) adds the common fields of such records;
cycle is D/W/M/Q/Y/R (realtime)/I (irregular); share and open are U (unconditional), C
(conditional) or N (not). The standard system fields every provider's tables end with complete
each entry (see catalog.py).
"""

ENTRIES = """
FGW 政府投资项目库 | Government investment projects | e M CC
项目代码 项目名称 项目类型 建设性质 总投资(万元) 建设地点 建设内容
计划开工年份 计划竣工年份 项目单位 审批文号 审批日期 资金来源

FGW 企业投资项目备案 | Enterprise investment filings | f M UU
备案项目代码 项目名称 建设规模 总投资(万元) 建设地点 备案日期 项目状态

FGW 重点建设项目进度 | Key construction projects | e M CU
项目代码 项目名称 年度计划投资(万元) 累计完成投资(万元) 形象进度 开工日期 责任单位

FGW 重要商品价格监测 | Price monitoring of key goods | s W UU
监测品种 规格等级 监测点 本期价格 上期价格 环比涨跌幅 同比涨跌幅

KJ 高新技术企业名单 | High-tech enterprises | f Y UU
证书编号 认定年度 技术领域 研发费用(万元) 高新技术产品收入(万元) 科技人员数

KJ 科技型中小企业 | Technology-based SMEs | f Y UU
入库编号 入库年度 研发人员数 知识产权数 评价得分

KJ 科技计划项目 | Science and technology projects | e Y CC
项目编号 项目名称 项目类别 承担单位 项目负责人 资助金额(万元) 起始日期 截止日期 验收结论

KJ 专利授权信息 | Patents granted | c M UU
专利号 专利名称 专利类型 申请日期 授权公告日 发明人 专利权人

SF 人民调解案件 | People's mediation cases | k M CN
纠纷类型 调解组织 调解员 调解日期 调解结果 协议履行情况

SF 律师执业信息 | Practising lawyers | p Y UC
执业证号 执业机构 执业类别 执业证取得日期 年度考核结果

SF 法律援助案件 | Legal aid cases | k M CN
援助类型 受援人经济状况 援助事项 指派律师 指派日期

SF 社区矫正对象 | Community correction subjects | p D NN
矫正类别 矫正期限 矫正起始日期 矫正终止日期 执行地司法所 监管等级

CZ 财政预算执行 | Budget execution | s M CU
预算科目编码 预算科目名称 年初预算数(万元) 调整预算数(万元) 执行数(万元) 执行进度

CZ 政府采购合同 | Government procurement contracts | e D UU
合同编号 采购项目名称 采购方式 采购单位 供应商名称 供应商统一社会信用代码 合同金额(万元) 签订日期

CZ 非税收入缴款 | Non-tax revenue payments | e D CN
缴款书编号 执收单位 收入项目 缴款人 缴款金额 缴款日期 入库日期

CZ 行政事业单位资产 | Assets of public institutions | l Y CN
资产编号 资产名称 资产分类 取得方式 原值(万元) 净值(万元) 使用单位 使用状况

SL 河道水位监测 | River water levels | s R UU
测站编码 测站名称 所在河道 水位 警戒水位 保证水位 观测时间

SL 水利工程名录 | Water projects | l Y UU
工程编码 工程类型 工程规模 设计流量 管理单位负责人

SL 河长制河道信息 | River chief system rivers | l Q UU
河道编码 河道名称 河道等级 河道长度 起点 终点 河长姓名 河长职务

SL 取水许可 | Water abstraction permits | c Y UC
取水地点 取水方式 取水用途 年取水量 水源类型

NY 家庭农场名录 | Family farms | f Y UU
农场名称 经营类型 经营面积 主要产品 认定级别 认定日期

NY 农产品质量安全检测 | Farm produce safety tests | e M UU
样品编号 样品名称 抽样地点 受检单位 检测项目 检测结果 判定结论 检测日期

NY 耕地地力保护补贴 | Farmland protection subsidies | p Y CN
补贴面积 补贴标准 补贴金额 发放日期 银行账号 开户银行

NY 农机购置补贴 | Farm machinery subsidies | p Y CC
机具品目 机具型号 生产企业 购机日期 购机价格 补贴金额

SW 外贸进出口企业 | Foreign trade enterprises | f M UC
海关编码 进出口经营权备案日期 主要出口市场 主要产品 年进出口额(万美元)

SW 限额以上批零住餐企业 | Wholesale, retail, hotel and catering above quota | f M CC
行业小类 营业面积 从业人员数 商品销售额(万元) 零售额(万元) 营业额(万元)

SW 外商投资企业 | Foreign-invested enterprises | f Q UC
投资方国别 投资方名称 合同外资(万美元) 实际使用外资(万美元) 批准日期

SW 成品油零售经营许可 | Fuel retail licences | c Y UU
加油站名称 加油站地址 储罐容积 加油机数量 经营品种

WGL A级旅游景区 | Graded scenic areas | l Y UU
景区等级 评定日期 最大承载量 年接待游客数 门票价格 开放时间

WGL 旅行社名录 | Travel agencies | f Q UU
许可证号 经营范围类别 质量保证金(万元) 门店数量 导游人数

WGL 星级饭店 | Star-rated hotels | l Y UU
星级 客房数 床位数 餐位数 评定日期 年营业收入(万元)

WGL 文化市场经营许可 | Cultural market licences | c M UU
场所名称 经营项目 场所面积 发证日期 有效期至 年检结果

TYJ 退役军人信息 | Veterans | p M CN
入伍日期 退役日期 服役部队 退役方式 安置方式 优待证号

TYJ 优抚对象信息 | Entitled groups | p M CN
优抚类别 伤残等级 抚恤标准 发放方式 认定日期

TYJ 退役军人就业创业 | Veterans' employment and business | p Q CN
就业方式 就业单位 创业项目 培训项目 补助金额

TYJ 光荣院和军休所 | Veterans' homes | l Y UU
机构名称 床位数 在院人数 负责人

YJ 危险化学品企业 | Hazardous chemicals enterprises | f Q CN
许可证编号 危化品名称 最大储存量 重大危险源等级 安全生产标准化等级

YJ 安全生产行政处罚 | Work-safety penalties | k M UC
违法行为 处罚依据 处罚种类 罚款金额 处罚决定书文号 处罚日期

YJ 应急避难场所 | Emergency shelters | l Y UU
场所类型 有效面积 容纳人数 物资储备情况 启用状态

YJ 自然灾害灾情 | Natural disaster losses | e I CU
灾害类型 受灾人口 紧急转移人数 倒塌房屋间数 直接经济损失(万元) 灾害发生日期

SJ 审计项目信息 | Audit projects | e Y NN
审计项目编号 审计类型 被审计单位 审计期间 审计组组长 审计报告文号

SJ 审计整改情况 | Audit follow-up | e Q CN
问题编号 问题描述 整改要求 整改措施 整改完成日期 整改金额(万元)

SJ 被审计单位名录 | Audited units | f Y CN
单位性质 主管部门 最近审计年度 审计次数

TJ 国民经济主要指标 | Key economic indicators | s M UU
本期值 上年同期值 同比增长 累计值 累计同比增长

TJ 人口抽样调查汇总 | Population sample survey | s Y UU
常住人口数 户籍人口数 城镇化率 出生率 死亡率 自然增长率

TJ 规上工业产值月报 | Monthly industrial output | s M UC
行业代码 行业名称 工业总产值(万元) 工业增加值增速 产销率

TJ 居民收支调查 | Household income and spending | s Q UU
人均可支配收入 人均消费支出 城镇居民人均可支配收入 农村居民人均可支配收入

TY 公共体育设施 | Public sports facilities | l Y UU
场地类型 场地面积 开放时间 收费标准 年服务人次

TY 社会体育指导员 | Social sports instructors | p Y CN
证书编号 等级 指导项目 服务站点

TY 体育社会组织 | Sports associations | f Y UU
业务主管单位 会员数 登记日期

TY 全民健身活动 | Public fitness events | e M UU
活动名称 活动类型 参与人数 主办单位 活动日期 活动地点

ZHZF 行政处罚案件 | Administrative penalty cases | k D UC
违法行为 处罚依据 处罚种类 罚款金额 处罚决定书文号 处罚日期

ZHZF 城市部件普查 | City components census | l Q UU
部件编码 部件类型 部件状态 权属单位 养护单位 普查日期

ZHZF 户外广告设置许可 | Outdoor advertising permits | c M UU
设置地点 广告形式 规格尺寸 设置期限 审批日期

ZHZF 渣土运输车辆 | Muck trucks | c M CN
车牌号码 运输企业 核准证号 核定线路 有效期至

DSJ 数据共享申请 | Data sharing requests | e D UN
申请编号 申请部门 资源代码 申请用途 申请日期 审核部门 审核结果 审核日期

DSJ 政务信息系统目录 | Government information systems | e Q CN
系统编号 系统名称 建设单位 运维单位 上线日期 等保级别 部署位置

DSJ 数据质量问题反馈 | Data quality issues | e D UN
问题编号 资源代码 问题类型 问题描述 反馈部门 处理状态 处理期限

DSJ 公共数据开放目录 | Open data catalog | s M UU
资源代码 资源名称 开放类型 开放条件 开放日期 下载次数 调用次数

DAG 馆藏档案目录 | Archive holdings | e Y CC
全宗号 全宗名称 档号 题名 责任者 形成时间 保管期限 密级

DAG 档案查阅利用登记 | Archive access records | p D CN
查档编号 查档目的 利用方式 查阅档号 查档日期 接待人

DAG 婚姻登记档案 | Marriage archives | p Y NN
档号 登记类型 登记日期 男方姓名 女方姓名 登记机关

XF 消防监督检查 | Fire inspections | k D CC
检查单位 检查类型 检查日期 发现问题数 责令改正通知书文号 复查日期

XF 火灾事故 | Fire incidents | e D CU
起火时间 起火地点 起火原因 过火面积 死亡人数 受伤人数 直接财产损失(万元)

XF 消防安全重点单位 | Key fire-safety units | f Y CN
消防安全责任人 消防安全管理人 建筑面积 建筑高度 重点部位

XF 消防水源 | Fire water sources | l Q CN
水源编号 水源类型 管网形式 管径 压力 可用状态

FY 裁判文书信息 | Court judgments | k D NN
案号 审理法院 案件类型 审判程序 裁判日期 文书类型 审判长

FY 失信被执行人名单 | Dishonest judgment debtors | k D UU
案号 执行法院 执行依据文号 生效法律文书确定的义务 履行情况 失信行为情形 发布日期

FY 开庭公告 | Court hearing notices | e D UU
案号 案由 开庭时间 法庭 承办法官 当事人

FY 执行案件 | Enforcement cases | k D NN
案号 执行标的(万元) 执行法院 立案日期 结案方式 执行到位金额(万元)

JCY 案件信息公开 | Procuratorial case disclosures | k D UU
案件类别 犯罪嫌疑人 罪名 审查起诉日期 起诉日期

JCY 公益诉讼线索 | Public-interest litigation leads | k M NN
线索编号 线索来源 涉及领域 受理日期 处理结果

JCY 检察建议 | Procuratorial recommendations | e M CU
建议书文号 发送单位 建议内容 发出日期 回复日期 采纳情况

JCY 行贿犯罪档案 | Bribery records | k M NN
行贿人 行贿人证件号码 受贿人单位 判决法院 判决日期 刑期

RF 人防工程 | Civil air-defence works | l Y NN
工程编号 工程名称 防护等级 建筑面积 掩蔽人数 平时用途

RF 防空警报设施 | Air-raid sirens | l Y NN
警报器编号 型号 安装地点 控制方式 工作状态

RF 人防工程使用许可 | Civil air-defence use permits | c Y CU
许可证号 使用单位 使用用途 使用面积 许可期限

MZZJ 宗教活动场所 | Religious venues | l Y UU
宗教类别 登记证号 负责人 建筑面积 登记日期

MZZJ 少数民族人口分布 | Ethnic minority population | s Y UU
民族 人口数 户数 主要分布乡镇

MZZJ 宗教教职人员 | Clergy | p Y NN
宗教类别 教职身份 所在场所 认定日期 备案日期

GZW 市属国有企业 | Municipal state-owned enterprises | f Q UC
出资企业 持股比例 企业级次 主营业务 资产总额(万元) 净资产(万元)

GZW 国有资产产权登记 | State-owned property registrations | f Y CN
产权登记类型 国有资本(万元) 登记日期 出资人

GZW 国企经营指标 | SOE performance | s M CN
营业收入(万元) 利润总额(万元) 资产负债率 净资产收益率 上缴税费(万元)

XFJ 信访事项 | Petitions | k D NN
信访件编号 信访形式 信访目的 问题属地 内容分类 登记日期 办理期限 办理结果

XFJ 信访人信息 | Petitioners | p D NN
信访次数 首次信访日期 最近信访日期 是否集体访

XFJ 信访办理满意度 | Petition satisfaction | e M CN
信访件编号 责任单位 满意度 评价日期

JGSW 公务用车 | Official vehicles | c Y CN
车牌号码 车辆类型 品牌型号 使用单位 购置日期 编制情况

JGSW 办公用房 | Office buildings | l Y CN
房屋坐落 使用单位 建筑面积 权属情况 使用状况

JGSW 公共机构能耗 | Energy use of public institutions | s Q CU
用电量 用水量 用气量 人均能耗 单位面积能耗

CL 持证残疾人信息 | Registered persons with disabilities | p M CN
残疾人证号 残疾类别 残疾等级 发证日期 监护人姓名

CL 残疾人康复服务 | Rehabilitation services | p Q CN
服务类型 康复机构 服务日期 辅具名称 补助金额

CL 残疾人就业 | Employment of persons with disabilities | p Q CN
就业形式 就业单位 按比例就业 培训情况

HG 进出口企业备案 | Customs-registered traders | f M UC
海关注册编码 企业经营类别 注册海关 信用等级 备案日期

HG 进出口货物报关 | Customs declarations | e D CN
报关单号 进出口标志 申报日期 商品编码 商品名称 数量 成交金额(万美元) 贸易国别

HG 海关高级认证企业 | AEO certified enterprises | f Q UU
海关注册编码 认证类型 认证日期

RQJT 燃气用户 | Gas customers | p M CN
燃气户号 用户类型 用气地址 表具型号 开户日期 用户状态

RQJT 燃气管网 | Gas pipe network | l Y NN
管段编号 管材 管径 压力级别 埋深 敷设日期

RQJT 月度用气量 | Monthly gas consumption | s M CC
燃气户号 抄表月份 本期读数 用气量 燃气费

RQJT 燃气安全检查 | Gas safety checks | e M CN
燃气户号 检查日期 检查人员 隐患类型 整改情况

YD 移动基站位置 | China Mobile base stations | l Q NN
基站编号 制式 覆盖类型 站址类型 开通日期

YD 人口热力统计 | Population heat map | s H CC
网格编号 统计时段 常住人口数 流动人口数 来源地分布

YD 信号覆盖质量 | Signal coverage | s M CC
网格编号 覆盖率 平均信号强度 掉话率

LT 联通基站位置 | China Unicom base stations | l Q NN
基站编号 制式 覆盖类型 站址类型 开通日期

LT 人口流动统计 | Population movement | s D CC
出发地 到达地 统计日期 出行人次 出行方式

LT 宽带覆盖情况 | Broadband coverage | s Q UU
覆盖小区数 光纤入户率 千兆覆盖率 端口数

DX 电信基站位置 | China Telecom base stations | l Q NN
基站编号 制式 覆盖类型 站址类型 开通日期

DX 光纤宽带覆盖 | Fibre coverage | s Q UU
覆盖楼宇数 光纤端口数 实装率 千兆用户数

DX 公共WiFi热点 | Public Wi-Fi hotspots | l Q UU
热点名称 SSID 接入点数量 覆盖范围 开通日期

JXW 工业投资项目 | Industrial investment projects | e M CC
项目代码 项目名称 计划总投资(万元) 年度完成投资(万元) 技改标志 开工日期 投产日期

JY 教师资格认定 | Teacher certifications | p Y CN
证书编号 资格种类 任教学科 认定机构 认定日期

GA 流动人口居住登记 | Migrant residence registrations | p D NN
居住证编号 来嘉日期 居住事由 居住处所类型 登记派出所 有效期至

GA 机动车驾驶人信息 | Licensed drivers | p D NN
驾驶证号 准驾车型 初次领证日期 有效期至 累积记分 驾驶证状态

MZ 社会组织登记 | Social organizations | f M UU
组织类型 业务主管单位 登记日期 注册资金(万元) 年检结论

MZ 殡葬服务记录 | Funeral services | p D NN
死亡日期 死亡原因 火化日期 殡仪馆 骨灰安放地

RS 职业技能等级证书 | Vocational skill certificates | c M UC
证书编号 职业名称 技能等级 评价机构 发证日期

RS 失业登记 | Unemployment registrations | p M CN
失业登记日期 失业原因 求职意向 失业保险金领取标志 就业援助对象类别

ZRZY 不动产登记 | Real estate registrations | c D CN
不动产单元号 不动产权证号 权利人 权利类型 坐落 面积 用途 登记日期

ZRZY 建设用地规划许可 | Land-use planning permits | c M UU
许可证号 用地单位 用地位置 用地面积 用地性质 发证日期

STHJ 环境行政处罚 | Environmental penalties | k M UU
违法行为 处罚依据 处罚种类 罚款金额 处罚决定书文号 处罚日期

JS 房屋安全鉴定 | Building safety appraisals | l Q CU
房屋坐落 结构类型 建成年代 鉴定等级 鉴定机构 鉴定日期

JT 道路运输经营许可 | Road transport licences | c M UU
许可证号 经营范围 车辆数 发证日期 有效期至

JT 出租汽车信息 | Taxis | c M CC
车牌号码 经营企业 车辆型号 燃料类型 营运证号 驾驶员数

WJW 医师执业注册 | Physician registrations | p M UC
执业证书编码 执业类别 执业范围 主要执业机构 注册日期

WJW 预防接种记录 | Vaccinations | p D NN
疫苗名称 疫苗批号 接种剂次 接种日期 接种单位 接种部位

SCJG 行政许可公示 | Administrative licence disclosures | c D UU
许可决定书文号 许可类别 许可内容 许可决定日期 有效期至 许可机关

SCJG 特种设备登记 | Special equipment | l M CN
设备代码 设备类别 设备品种 使用登记证编号 下次检验日期 使用状态

YB 医保药品目录 | Reimbursable drugs | s Y UU
药品编码 药品名称 剂型 规格 甲乙类 限定支付范围 支付标准

ZFB 政务服务事项目录 | Government service matters | e M UU
事项编码 事项名称 事项类型 实施主体 法定时限 承诺时限 是否收费 办理地点

QX 自动气象站名录 | Automatic weather stations | l Y UU
站号 站名 海拔高度 观测要素 建站日期

SWJ 欠税公告 | Tax arrears notices | f Q UU
欠税税种 欠税金额 本期新增欠税金额 公告日期

GJJ 公积金缴存单位 | Fund-paying employers | f M CN
单位账号 缴存人数 月缴存总额 缴存比例 开户日期 单位状态

GDGS 变电站信息 | Substations | l Y NN
变电站名称 电压等级 主变容量 投运日期 运维班组

SWJT 供水管网 | Water mains | l Y NN
管段编号 管材 管径 埋深 敷设日期 所属水厂

GJJT 公交线路 | Bus routes | l M UU
线路编号 线路名称 线路类型 首班时间 末班时间 票价 站点数 线路长度
"""

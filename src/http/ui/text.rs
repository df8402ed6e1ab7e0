//! The workbench's own words in Chinese and English (the chrome; data labels come from the
//! graph in the chosen language where it has them).
//!
//! One struct with a field per string, not a key lookup: a template that names a string that
//! does not exist fails to compile, and both languages must fill every field.

/// The chrome's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The first of zh/en the browser lists in `Accept-Language` (English when it lists
    /// neither).
    pub fn from_accept(header: Option<&str>) -> Lang {
        header
            .unwrap_or("")
            .split(',')
            .filter_map(|part| {
                let tag = part.split(';').next()?.trim().to_ascii_lowercase();
                Lang::parse(tag.split('-').next()?)
            })
            .next()
            .unwrap_or(Lang::En)
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// Every string of the chrome.
pub struct Text {
    pub product: &'static str,
    pub tagline: &'static str,
    pub switch_to: &'static str,
    pub nav_home: &'static str,
    pub nav_query: &'static str,
    pub nav_report: &'static str,
    pub nav_api: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub anonymous: &'static str,
    pub role: &'static str,
    pub token: &'static str,
    pub token_help: &'static str,
    pub sign_in_failed: &'static str,
    pub need_sign_in: &'static str,
    pub home_intro: &'static str,
    pub card_query: &'static str,
    pub card_query_text: &'static str,
    pub card_report: &'static str,
    pub card_report_text: &'static str,
    pub card_api: &'static str,
    pub card_api_text: &'static str,
    pub graphs_visible: &'static str,
    pub named_queries: &'static str,
    pub model_served: &'static str,
    pub none: &'static str,
    pub query_help: &'static str,
    pub nav_catalog: &'static str,
    pub catalog_intro: &'static str,
    pub sources: &'static str,
    pub assets: &'static str,
    pub columns: &'static str,
    pub kind: &'static str,
    pub rows: &'static str,
    pub format: &'static str,
    pub last_scan: &'static str,
    pub personal_data: &'static str,
    pub semantic_type: &'static str,
    pub null_rate: &'static str,
    pub distinct: &'static str,
    pub no_sources: &'static str,
    pub full_report: &'static str,
    pub failed: &'static str,
    pub new_asset: &'static str,
}

const ZH: Text = Text {
    product: "Stocktake 盘点",
    tagline: "数据资产盘点与电商知识图谱",
    switch_to: "English",
    nav_home: "首页",
    nav_query: "查询",
    nav_report: "盘点报告",
    nav_api: "接口",
    sign_in: "登录",
    sign_out: "退出",
    signed_in_as: "当前用户",
    anonymous: "匿名（只读）",
    role: "角色",
    token: "访问令牌",
    token_help: "输入管理员发给您的令牌（stocktake token 生成）。令牌不会保存在浏览器中：服务器只记下它的摘要，会话 8 小时后结束。",
    sign_in_failed: "令牌无效，请检查后重试。",
    need_sign_in: "此服务器需要登录后才能查看。",
    home_intro: "目录即知识图谱：数据源、资产、字段画像与个人信息标记、商品知识图谱和链接预测模型都在同一个存储里，按您的权限可见。",
    card_query: "SPARQL 查询",
    card_query_text: "YASGUI 编辑器：本库的前缀、类和属性自动补全，命名查询一键打开，结果可排序和下载。",
    card_report: "盘点报告",
    card_report_text: "每个数据源的资产、行数、字段画像、语义类型和个人信息。",
    card_api: "接口目录",
    card_api_text: "HTTP 接口与 OpenAPI 描述。",
    graphs_visible: "您可见的命名图",
    named_queries: "命名查询",
    model_served: "链接预测模型",
    none: "无",
    query_help: "Ctrl+Enter 运行查询。写入（UPDATE）需要写权限。",
    nav_catalog: "数据目录",
    catalog_intro: "已扫描的数据源、资产（文件或表）及其字段：行数、业务类型、字段的语义类型和个人信息标记。",
    sources: "数据源",
    assets: "资产",
    columns: "字段",
    kind: "业务类型",
    rows: "行数",
    format: "格式",
    last_scan: "最近扫描",
    personal_data: "个人信息",
    semantic_type: "语义类型",
    null_rate: "空值率",
    distinct: "不同值",
    no_sources: "还没有扫描任何数据源：运行 stocktake scan，或以写权限 POST /api/v1/sources。",
    full_report: "完整盘点报告",
    failed: "失败",
    new_asset: "新",
};

const EN: Text = Text {
    product: "Stocktake",
    tagline: "Data-asset inventory and the e-commerce knowledge graph",
    switch_to: "中文",
    nav_home: "Home",
    nav_query: "Query",
    nav_report: "Report",
    nav_api: "API",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    anonymous: "anonymous (read only)",
    role: "role",
    token: "Access token",
    token_help: "Paste the token your administrator gave you (made with stocktake token). The browser never stores it: the server keeps only its hash, and the session ends after 8 hours.",
    sign_in_failed: "That token is not valid; check it and try again.",
    need_sign_in: "This server needs you to sign in first.",
    home_intro: "The catalog is the knowledge graph: sources, assets, column profiles and personal-data flags, the product graph and the link-prediction model live in one store, shown as far as your role may see.",
    card_query: "SPARQL query",
    card_query_text: "YASGUI with this store's prefixes, class and property completion, the named queries one click away, sortable and downloadable results.",
    card_report: "Inventory report",
    card_report_text: "Every source's assets, rows, column profiles, semantic types and personal data.",
    card_api: "API index",
    card_api_text: "The HTTP endpoints and their OpenAPI description.",
    graphs_visible: "Named graphs you can see",
    named_queries: "Named queries",
    model_served: "Link-prediction model",
    none: "none",
    query_help: "Ctrl+Enter runs the query. Updates need the write role.",
    nav_catalog: "Catalog",
    catalog_intro: "The sources scanned so far, their assets (files or tables) and columns: rows, business kind, each column's semantic type and personal-data flag.",
    sources: "Sources",
    assets: "Assets",
    columns: "Columns",
    kind: "Kind",
    rows: "Rows",
    format: "Format",
    last_scan: "Last scan",
    personal_data: "Personal data",
    semantic_type: "Semantic type",
    null_rate: "Null rate",
    distinct: "Distinct",
    no_sources: "No source scanned yet: run `stocktake scan`, or POST /api/v1/sources with the write role.",
    full_report: "Full inventory report",
    failed: "failed",
    new_asset: "new",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_known() {
        assert_eq!(Lang::from_accept(Some("zh-CN,zh;q=0.9,en;q=0.8")), Lang::Zh);
        assert_eq!(Lang::from_accept(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept(Some("fr-FR, zh-TW;q=0.5")), Lang::Zh);
        assert_eq!(Lang::from_accept(Some("de")), Lang::En);
        assert_eq!(Lang::from_accept(None), Lang::En);
    }
}

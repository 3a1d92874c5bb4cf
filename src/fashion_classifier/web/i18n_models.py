"""Texts of the models page in English and Chinese (merged into i18n.TEXTS)."""

from __future__ import annotations

MODELS_TEXTS: dict[str, dict[str, str]] = {
    "nav_models": {"en": "Models", "zh": "模型"},
    "models_heading": {"en": "Model versions", "zh": "模型版本"},
    "models_active": {
        "en": "Answering now: version {version}, active since {since} UTC.",
        "zh": "当前使用的版本：{version}，自 {since} UTC 起启用。",
    },
    "models_previous": {
        "en": "A rollback returns to {version}.",
        "zh": "回滚将回到 {version}。",
    },
    "models_none_kept": {
        "en": "No model version is kept in the store yet (running fashion-classifier migrate registers the "
        "shipped one); this server answers with {version}.",
        "zh": "存储中还没有保存任何模型版本（运行 fashion-classifier migrate 会登记随附的模型）；此服务器当前使用 {version}。",
    },
    "models_table": {"en": "Kept versions, newest first", "zh": "已保存的版本（最新的在前）"},
    "col_version": {"en": "Version", "zh": "版本"},
    "col_state": {"en": "State", "zh": "状态"},
    "col_added": {"en": "Added (UTC), by", "zh": "添加时间 (UTC)、添加者"},
    "col_learned_from": {"en": "Learned from", "zh": "学习自"},
    "fig_test": {"en": "Test images", "zh": "测试图像"},
    "fig_studio": {"en": "Studio photos", "zh": "影棚照片"},
    "fig_non_garments": {"en": "Non-garments flagged", "zh": "识别出的非服装"},
    "fig_held_back_corrections": {"en": "Held-back corrections", "zh": "保留的更正"},
    "state_active": {"en": "active", "zh": "使用中"},
    "state_previous": {"en": "previous", "zh": "上一版本"},
    "models_figures_note": {
        "en": "Figures from each version's model card: accuracy on the 10,000 Fashion-MNIST test images and on "
        "2,000 studio photos, the share of non-garment pictures flagged, and, for a version learnt from "
        "corrections, the share of the corrections held back from its training that it answers as the user "
        "said. “-”: the card has no such figure.",
        "zh": "数据来自各版本的模型卡：在 10,000 张 Fashion-MNIST 测试图像和 2,000 张影棚照片上的准确率、"
        "识别出的非服装图片比例，以及（对从更正中学习得到的版本）训练时保留下来的更正中按用户所说回答的比例。"
        "“-”表示模型卡没有这项数据。",
    },
    "corrected_heading": {"en": "Answers users corrected", "zh": "被用户更正的回答"},
    "corrected_meaning": {
        "en": "An answer counts as corrected when a user's correction differs from it: another class, or "
        "“not a garment” for a class, or a class for “not a garment”. Counted per answer the model gave.",
        "zh": "用户的更正与模型的回答不同，即算作被更正：改为另一个类别、把某个类别改为“非服装”，或把“非服装”改为某个类别。"
        "按模型给出的回答统计。",
    },
    "answer_not_garment": {"en": "Not a garment", "zh": "非服装"},
    "col_answer": {"en": "Model's answer", "zh": "模型的回答"},
    "all_answers": {"en": "All answers", "zh": "全部回答"},
    "corrected_window": {
        "en": "Counted over the newest {records} uploads (at most {window}), made from {oldest} to {newest} UTC; "
        "counted at {computed} UTC, again at most once a minute.",
        "zh": "统计范围：最新的 {records} 次上传（最多 {window} 次），上传时间 {oldest} 至 {newest} UTC；"
        "统计于 {computed} UTC，每分钟最多重新统计一次。",
    },
    "corrected_empty": {
        "en": "Nothing uploaded yet: no answers to count.",
        "zh": "还没有上传记录：没有可统计的回答。",
    },
    "chart_title": {"en": "Corrected answers of version {version}", "zh": "版本 {version} 被更正的回答"},
    "chart_desc": {
        "en": "Bars: the share of the version's answers users corrected, per answer; {share} of all its answers "
        "({corrected} of {answers}). The table below gives every number.",
        "zh": "条形表示该版本每种回答中被用户更正的比例；全部回答中为 {share}（{answers} 个中 {corrected} 个）。"
        "下方表格列出全部数字。",
    },
    "corrected_of": {"en": "{corrected} of {answers}", "zh": "{answers} 个中 {corrected} 个"},
    "shares_table": {
        "en": "Share of answers corrected, per answer (rows) and version (columns)",
        "zh": "被更正的回答比例，按回答（行）和版本（列）",
    },
}

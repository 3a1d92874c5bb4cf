"""Page texts in English and Chinese; the language comes from a cookie or the browser."""

from __future__ import annotations

from flask import Request

from fashion_classifier.labels import (
    CLASSES,
    CLASSES_ZH,
    NOT_A_GARMENT,
    NOT_A_GARMENT_TEXT,
    NOT_A_GARMENT_TEXT_ZH,
)
from fashion_classifier.web.i18n_models import MODELS_TEXTS

LANGUAGES = ("en", "zh")
COOKIE = "lang"

TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "Fashion classifier", "zh": "服装分类器"},
    "nav_upload": {"en": "Upload", "zh": "上传"},
    "nav_history": {"en": "History", "zh": "历史记录"},
    "nav_api": {"en": "API docs", "zh": "API 文档"},
    "api_heading": {"en": "JSON API", "zh": "JSON API"},
    "api_intro": {
        "en": "Try every call of the API below; programs and client generators read the same description at",
        "zh": "可在下方试用 API 的每个调用；程序和客户端生成器读取同一份描述：",
    },
    "api_operations": {"en": "API operations", "zh": "API 操作"},
    "api_responses": {"en": "Responses", "zh": "响应"},
    "take_photo": {"en": "Take a photo", "zh": "拍照"},
    "paste_label": {
        "en": "Or paste a picture here (Ctrl+V, or long-press and choose Paste)",
        "zh": "或在此粘贴图片（Ctrl+V，或长按后选择“粘贴”）",
    },
    "paste_no_picture": {
        "en": "The clipboard holds no picture; copy a picture first, then paste it here.",
        "zh": "剪贴板里没有图片；请先复制一张图片，再粘贴到这里。",
    },
    "switch_language": {"en": "中文", "zh": "English"},
    "upload_heading": {"en": "What garment is it?", "zh": "这是什么服装？"},
    "upload_hint": {
        "en": "Drop pictures of clothing here, choose files or paste one; on a phone, take a photo. PNG, JPEG, WebP, GIF, BMP or TIFF.",
        "zh": "把服装图片拖到这里，选择文件或粘贴图片；在手机上也可以拍照。支持 PNG、JPEG、WebP、GIF、BMP、TIFF。",
    },
    "choose_files": {"en": "Choose pictures", "zh": "选择图片"},
    "upload_button": {"en": "Upload and classify", "zh": "上传并分类"},
    "working": {"en": "Classifying…", "zh": "正在分类…"},
    "result_heading": {"en": "Results", "zh": "分类结果"},
    "upload_more": {"en": "Classify more pictures", "zh": "继续上传"},
    "predicted": {"en": "Predicted class", "zh": "预测类别"},
    "confidence": {"en": "Confidence", "zh": "置信度"},
    "top_classes": {"en": "Top classes", "zh": "最可能的类别"},
    "all_probabilities": {"en": "All probabilities", "zh": "全部概率"},
    "wrong_prompt": {"en": "Wrong? It is a …", "zh": "不对？它其实是…"},
    "send_feedback": {"en": "Send correction", "zh": "提交更正"},
    "corrected_as": {"en": "Corrected to", "zh": "已更正为"},
    "feedback_thanks": {"en": "Thank you, the correction is saved.", "zh": "谢谢，更正已保存。"},
    "history_heading": {"en": "Upload history", "zh": "上传历史"},
    "filter_class": {"en": "Class", "zh": "类别"},
    "all_classes": {"en": "All classes", "zh": "全部类别"},
    "apply_filter": {"en": "Filter", "zh": "筛选"},
    "col_picture": {"en": "Picture", "zh": "图片"},
    "col_class": {"en": "Class", "zh": "类别"},
    "col_file": {"en": "File name", "zh": "文件名"},
    "col_time": {"en": "Time (UTC)", "zh": "时间 (UTC)"},
    "newer": {"en": "Newest", "zh": "最新"},
    "older": {"en": "Older", "zh": "更早"},
    "empty_history": {"en": "Nothing uploaded yet.", "zh": "还没有上传记录。"},
    "record_heading": {"en": "Prediction", "zh": "预测详情"},
    "model_version": {"en": "Model version", "zh": "模型版本"},
    "picture_of": {"en": "Uploaded picture", "zh": "上传的图片"},
    "size": {"en": "Size", "zh": "尺寸"},
    "error_heading": {"en": "Something went wrong", "zh": "出错了"},
    "back": {"en": "Back to upload", "zh": "返回上传页"},
    "remove": {"en": "Remove", "zh": "移除"},
    "not_garment": {
        "en": "This does not look like one of the ten garments; closest",
        "zh": "这看起来不像十类服装中的任何一种；最接近",
    },
    "not_garment_title": {"en": "Not a garment; closest", "zh": "不是服装；最接近"},
    "flagged_prompt": {
        "en": "Is it a garment after all? It is a …",
        "zh": "其实是服装？它是…",
    },
    "garment_score": {"en": "Garment score", "zh": "服装得分"},
    "filter_verdict": {"en": "Verdict", "zh": "判定"},
    "any_verdict": {"en": "Any picture", "zh": "全部图片"},
    "only_garments": {"en": "Garments", "zh": "服装"},
    "only_not_garments": {"en": "Not garments", "zh": "非服装"},
    "similar_uploads": {"en": "Similar uploads", "zh": "相似的上传"},
    "no_similar": {"en": "No similar uploads yet.", "zh": "还没有相似的上传。"},
    "similarity": {"en": "Similarity", "zh": "相似度"},
    **MODELS_TEXTS,  # the models page's texts
}


def choose_language(request: Request) -> str:
    """The cookie if the user picked one, else the browser's preferred language."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default="en") or "en"


def translator(language: str) -> dict[str, str]:
    return {key: texts[language] for key, texts in TEXTS.items()}


def class_names(language: str) -> dict[str, str]:
    """English class name (or labels.NOT_A_GARMENT, as a correction may say) -> its page wording."""
    names = CLASSES_ZH if language == "zh" else CLASSES
    wording = NOT_A_GARMENT_TEXT_ZH if language == "zh" else NOT_A_GARMENT_TEXT
    return {**dict(zip(CLASSES, names, strict=True)), NOT_A_GARMENT: wording}

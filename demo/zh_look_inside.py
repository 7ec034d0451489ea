"""The Chinese texts of the Look inside, Mistakes and Mobile tabs: English -> 中文
(see ``demo.i18n``; the other tabs' texts are in ``demo.zh``)."""

ZH = {
}

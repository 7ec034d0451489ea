"""The Chinese texts of the Look inside, Mistakes and Mobile tabs: English -> 中文
(see ``demo.i18n``; the other tabs' texts are in ``demo.zh``).

Formulas, numbers, layer and file names stay as they are; ``{name}`` fields are filled in
by ``demo.i18n.tr``.
"""

ZH = {
    # -- shared (the checkpoint labels and the Classify tab's checkpoint messages are in demo.zh)
    "That checkpoint cannot be loaded ({error}): pick another one.": "这个检查点无法加载（{error}）：请换一个。",

    # -- 4 · Look inside -------------------------------------------------------------------------
    "4 · Look inside": "4 · 看看内部",
    """
### Look inside the network
Pick a picture (or an example below). **Where the network looks** colours the parts of the
picture that pushed it towards a class (red: strongly, blue: not at all), computed with
*Grad-CAM* on the last layer that still has a map. **Feature maps** show what one layer
computes: each square is one channel, bright where it responds. Deeper layers have smaller
maps and more channels.
""": (
        "### 看看网络内部\n"
        "选一张图片（或下面的示例）。**网络在看哪里** 会给图片中把网络推向某个类别的部分涂上颜色"
        "（红色：影响很大，蓝色：毫无影响），它是用 *Grad-CAM* 在最后一个仍有特征图的层上算出来的。"
        "**特征图** 显示某一层算出了什么：每个小方块是一个通道，它有反应的地方就亮。"
        "越深的层，特征图越小，通道越多。"
    ),
    "Look inside": "看看内部",
    "Explain the class": "要解释的类别",
    "the network's answer": "网络的回答",
    "Where the network looks (Grad-CAM)": "网络在看哪里（Grad-CAM）",
    "Example pictures": "示例图片",
    "### Feature maps": "### 特征图",
    "Layer": "层",
    "Activation maps, one square per channel": "激活图，每个通道一个小方块",
    "Maps shrink, channels grow (each block: a depthwise 3×3, then a pointwise 1×1 layer)":
        "特征图变小，通道变多（每个模块：一个 3×3 深度卷积层，再接一个 1×1 逐点卷积层）",
    """
### The 3×3 depthwise kernels
Each depthwise layer learns one 3×3 filter per channel; the pointwise layer after it mixes the
channels. Red is a positive weight, blue a negative one, white zero (each filter is scaled to
its own largest weight). Many first-block filters look like edge or spot detectors.
""": (
        "### 3×3 深度卷积核\n"
        "每个深度卷积层为每个通道学习一个 3×3 卷积核，它后面的逐点卷积层再把各通道混合起来。"
        "红色是正权重，蓝色是负权重，白色是零（每个卷积核按它自己最大的权重缩放）。"
        "第一个模块的许多卷积核看起来像边缘检测器或斑点检测器。"
    ),
    "Block": "模块",
    "Depthwise kernels": "深度卷积核",
    "stem: 3×3 convolution": "主干：3×3 卷积",
    "depthwise 3×3": "深度卷积 3×3",
    "pointwise 1×1": "逐点卷积 1×1",
    "layers": "层",
    "map": "特征图",
    "channels": "通道",
    "input": "输入",
    "picture": "图片",
    "stem": "主干",
    "**{name}**, the network's answer ({probability:.0%})": "**{name}**，即网络的回答（{probability:.0%}）",
    "**{name}** (probability {probability:.1%}; the network's answer is {answer}, {answer_probability:.0%})":
        "**{name}**（概率 {probability:.1%}；网络的回答是{answer}，{answer_probability:.0%}）",
    "Where the network looks for {which}, from layer `{layer}` ({height}×{width} map).":
        "网络在图片的哪里寻找{which}：来自 `{layer}` 层（{height}×{width} 特征图）。",
    "The last block (`{last}`) has a 1×1 map, which cannot say *where*; `{layer}` is the last layer "
    "with a map larger than 1×1.":
        "最后一个模块（`{last}`）的特征图只有 1×1，说不出 *在哪里*；`{layer}` 是特征图大于 1×1 的最后一层。",
    "A {height}×{width} map is coarse: each cell covers about {cell_height}×{cell_width} of the 32×32 "
    "pixels the network sees, so the colours say which part of the picture mattered, not which detail.":
        "{height}×{width} 的特征图很粗糙：每一格大约覆盖网络所见 32×32 像素中的 {cell_height}×{cell_width}，"
        "所以颜色说明的是图片的哪一部分起了作用，而不是哪个细节。",
    "**{layer}**: {height}×{width} map, {channels} channels ({kind}). Showing the {shown} most active "
    "channels, strongest first; each is scaled to its own maximum (yellow: strong, dark: zero).":
        "**{layer}**：{height}×{width} 特征图，{channels} 个通道（{kind}）。显示最活跃的 {shown} 个通道，"
        "最强的在前；每个通道按它自己的最大值缩放（黄色：强，深色：零）。",
    "**{layer}**: {height}×{width} map, {channels} channels ({kind}). Showing every channel, strongest "
    "first; each is scaled to its own maximum (yellow: strong, dark: zero).":
        "**{layer}**：{height}×{width} 特征图，{channels} 个通道（{kind}）。显示全部通道，最强的在前；"
        "每个通道按它自己的最大值缩放（黄色：强，深色：零）。",
    "**{layer}**: {kernels} kernels of 3×3, one per input channel (the first {shown} shown).":
        "**{layer}**：{kernels} 个 3×3 卷积核，每个输入通道一个（显示前 {shown} 个）。",
    "**{layer}**: {kernels} kernels of 3×3, one per input channel.":
        "**{layer}**：{kernels} 个 3×3 卷积核，每个输入通道一个。",
    "Pick a class to explain: one of {classes}.": "请选择要解释的类别：{classes} 之一。",
    "Unknown class": "未知类别",
    "This network has no layer {layer!r}: pick one from the list.": "这个网络没有 {layer!r} 层：请从列表中选一个。",
    "Unknown layer": "未知的层",
    "This network has no block {block!r}: pick one of {blocks}.": "这个网络没有模块 {block!r}：请从 {blocks} 中选一个。",
    "Unknown block": "未知的模块",

    # -- 5 · Mistakes ----------------------------------------------------------------------------
    "5 · Mistakes": "5 · 错误",
    """
### What does the network get wrong?
The network classifies all the CIFAR-10 test pictures once (about half a minute the first
time; then it is remembered). The **confusion matrix** counts every answer: rows are the true
classes, columns the answers, blue the right ones. On the right, the class pairs it mixes up
most, both ways (cats called dogs *and* dogs called cats), each with the pictures it got wrong
**most confidently**. Some are honest mistakes; some pictures are hard even for people.
""": (
        "### 网络会在哪里出错？\n"
        "网络把所有 CIFAR-10 测试图片分类一遍（第一次大约要半分钟，之后结果会被记住）。"
        "**混淆矩阵** 统计了每一个回答：行是真实类别，列是网络的回答，蓝色的是答对的。"
        "右边是它最常混淆的类别对，两个方向都有（猫被认成狗，*以及* 狗被认成猫），"
        "每个方向都配有它错得 **最自信** 的图片。有些错误情有可原；有些图片连人都很难分辨。"
    ),
    "Find its mistakes": "找出它的错误",
    "predicted class →": "预测类别 →",
    "true class ↓": "真实类别 ↓",
    "blue: right answers; orange: mistakes (darker = larger share of the row)":
        "蓝色：答对；橙色：答错（颜色越深 = 占该行的比例越大）",
    # under each picture, whose column already says "N 张猫的图片被认成狗": short enough for one line
    "true {true} → said {said} {confidence:.0%}": "{true} → {said} {confidence:.0%}",
    "{count} {true} picture called {said}": "{count} 张{true}的图片被认成{said}",
    "{count} {true} pictures called {said}": "{count} 张{true}的图片被认成{said}",
    ": 1 mistake": "：1 次错误",
    ": {count} mistakes": "：{count} 次错误",
    "No mistakes at all on this test set.": "在这个测试集上一个错误都没有。",
    "**{checkpoint}**: {accuracy:.1%} of {images:,} test pictures right, {wrong:,} wrong. On the right: "
    "the {pairs} pairs of classes it confuses most, most confident mistake first (the percentage is how "
    "sure it was).":
        "**{checkpoint}**：{images:,} 张测试图片中答对 {accuracy:.1%}，答错 {wrong:,} 张。右边：它最常混淆的 "
        "{pairs} 对类别，错得最自信的排在前面（百分比表示它当时有多确定）。",
    "No trained network yet: train one on the **Train** tab.": "还没有训练好的网络：请在 **训练** 页训练一个。",
    "The CIFAR-10 test pictures are not available on this server, so there are no mistakes to show. {error}":
        "本服务器上没有 CIFAR-10 测试图片，所以没有错误可以展示。{error}",
    "No test pictures": "没有测试图片",
    "Classifying the test pictures: {done:,} of {total:,}": "正在分类测试图片：{done:,} / {total:,}",
    "**{title}.** {message}": "**{title}。** {message}",

    # -- 6 · Mobile ------------------------------------------------------------------------------
    "6 · Mobile": "6 · 手机",
    """
### The "mobile" in MobileNet: the network as a phone app would carry it
A phone does not run Keras: it runs a small **LiteRT** (TensorFlow Lite) file. Press **Export**
to convert the checkpoint three ways: **float32** (the same numbers, BatchNorm folded into the
convolutions), **float16** (each weight stored in half the bytes) and **int8** (every weight and
every activation an 8-bit integer, calibrated on training pictures: a quarter of the size and
integer arithmetic, which phone chips run fastest). The table measures each beside the Keras
model on this server's CPU; download the files below it.
""": (
        "### 为移动端而生的 MobileNet：手机应用里装的网络\n"
        "手机上不运行 Keras，而是运行一个小小的 **LiteRT**（TensorFlow Lite）文件。"
        "点 **导出**，把检查点转换成三种格式：**float32**（数值不变，BatchNorm 合并进卷积）、"
        "**float16**（每个权重只占一半字节）和 **int8**（每个权重和每个激活值都是 8 位整数，"
        "用训练图片校准：大小只有四分之一，而且用整数运算，手机芯片算得最快）。"
        "下表在本服务器的 CPU 上把它们和 Keras 模型放在一起测量；文件可以在表格下方下载。"
    ),
    "Export": "导出",
    "Keras and its LiteRT files side by side": "Keras 模型与它的 LiteRT 文件对比",
    "The LiteRT files (.tflite)": "LiteRT 文件（.tflite）",
    "size (MB)": "大小（MB）",
    "× smaller than float32": "比 float32 小（倍）",
    "latency (ms per picture)": "延迟（ms/张）",
    "test accuracy (%)": "测试准确率（%）",
    "same answer as Keras (%)": "与 Keras 回答相同（%）",
    "file": "文件",
    "Keras checkpoint": "Keras 检查点",
    "{kind} ({dtype} weights)": "{kind}（{dtype} 权重）",
    "Accuracy on a fixed set of **{test_images:,} CIFAR-10 test pictures** ({per_class:,} per class, to "
    "keep this quick; `python -m mobilenet export` measures all 10,000). Latency: median of {latency_runs} "
    "one-picture calls on this server's CPU ({threads} threads; LiteRT with XNNPACK, Keras as a compiled "
    "`tf.function`), the network only. When a training run shares the CPU every figure is slower, but the "
    "ratios hold. int8 was calibrated on {calibration_images:,} training pictures.":
        "准确率在固定的 **{test_images:,} 张 CIFAR-10 测试图片** 上测量（每类 {per_class:,} 张，为了快一些；"
        "`python -m mobilenet export` 会测量全部 10,000 张）。延迟：在本服务器 CPU 上单张图片调用 "
        "{latency_runs} 次的中位数（{threads} 个线程；LiteRT 使用 XNNPACK，Keras 使用编译后的 "
        "`tf.function`），只计网络本身。有训练任务共用 CPU 时，每个数字都会变慢，但比例不变。"
        "int8 用 {calibration_images:,} 张训练图片校准。",
    "Converting to {kind}": "正在转换为 {kind}",
    "Measuring {kind}": "正在测量 {kind}",
    "No trained network yet: train one on the Train tab, then export it here.":
        "还没有训练好的网络：请先在“训练”页训练一个，再到这里导出。",
    "Pick a checkpoint to export first.": "请先选择要导出的检查点。",
    "Exporting needs CIFAR-10 (int8 calibrates on training pictures, accuracy uses test pictures): {error}":
        "导出需要 CIFAR-10（int8 要用训练图片校准，准确率要用测试图片测量）：{error}",
    "No CIFAR-10": "没有 CIFAR-10",
    "That checkpoint cannot be exported ({error}): pick another one.": "这个检查点无法导出（{error}）：请换一个。",
    r"""
### α and resolution: what do fewer Mult-Adds cost in accuracy?
The paper shrinks MobileNet two ways: a thinner network (width multiplier **α**, Table 6) and
smaller pictures (resolution, Table 7). Both cut Mult-Adds roughly by α² or by the pixel count,
and accuracy falls slowly at first, then faster. Our points are CIFAR-10 checkpoints: the runs
trained on the **Train** tab (try α 0.25, 0.5, 0.75 and 1.0 with the same settings) and the
α sweep (`python -m mobilenet sweep`). ImageNet at 224×224 costs about 50 times the Mult-Adds
of CIFAR-10 at 32×32, so each point's Mult-Adds are shown **relative to the α = 1 network of
the same setting**: 1.0 is the full-width network, 0.1 a tenth of its work. Compare the
shapes of the curves, not their heights: ImageNet has 1000 classes, CIFAR-10 ten.
""": (
        "### α 与分辨率：乘加运算变少，准确率要付出多少？\n"
        "论文用两种方式缩小 MobileNet：更窄的网络（宽度乘子 **α**，表 6）和更小的图片（分辨率，表 7）。"
        "两种方式都让乘加运算（Mult-Adds）大致按 α² 或按像素数减少，而准确率起初下降得慢，后来越来越快。"
        "我们的点来自 CIFAR-10 检查点：在 **训练** 页训练的模型（试试用相同设置分别训练 α 0.25、0.5、"
        "0.75 和 1.0）以及 α 扫描（`python -m mobilenet sweep`）。224×224 的 ImageNet 需要的乘加运算"
        "大约是 32×32 的 CIFAR-10 的 50 倍，所以每个点的乘加运算都显示为 **相对于同一设置下 α = 1 "
        "的网络** 的比例：1.0 是全宽网络，0.1 是它十分之一的计算量。请比较曲线的形状，而不是高低："
        "ImageNet 有 1000 类，CIFAR-10 只有十类。"
    ),
    "Update with new runs": "加入新训练的模型",
    "The points": "数据点",
    "series": "系列",
    "point": "数据点",
    "top-1 accuracy (%)": "top-1 准确率（%）",
    "M Mult-Adds": "乘加运算（百万次）",
    "relative Mult-Adds": "相对乘加运算",
    "ImageNet (paper, Table 6): width α at 224×224": "ImageNet（论文表 6）：224×224 下的宽度 α",
    "ImageNet (paper, Table 7): resolution at α 1.0": "ImageNet（论文表 7）：α 1.0 下的分辨率",
    "CIFAR-10 (ours): {variant} variant, {depth}": "CIFAR-10（我们的）：{variant} 变体，{depth}",
    "CIFAR-10 (ours): {variant} variant, {depth}, {epochs} epochs × {images:,} images":
        "CIFAR-10（我们的）：{variant} 变体，{depth}，{epochs} 轮 × {images:,} 张图片",
    "CIFAR-10 (ours): {variant} variant, {depth}, 1 epoch × {images:,} images":
        "CIFAR-10（我们的）：{variant} 变体，{depth}，1 轮 × {images:,} 张图片",
    "Mult-Adds relative to the α = 1.0 model of the same setting (log scale)":
        "乘加运算，相对于同一设置下 α = 1.0 的模型（对数刻度）",
    "accuracy against Mult-Adds": "准确率与乘加运算",
    "{series}: {label}, {accuracy:.1f} %, {million_mult_adds:.1f} M Mult-Adds":
        "{series}：{label}，{accuracy:.1f} %，{million_mult_adds:.1f} 百万次乘加运算",
}

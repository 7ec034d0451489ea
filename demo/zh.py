"""The Chinese texts of the app: English text -> 中文 (see ``demo.i18n``).

Formulas, numbers, layer names and Markdown markup stay as they are; ``{name}`` fields
are filled in by ``demo.i18n.tr``.
"""

CLASS_NAMES_ZH = {"airplane": "飞机", "automobile": "汽车", "bird": "鸟", "cat": "猫", "deer": "鹿",
                  "dog": "狗", "frog": "青蛙", "horse": "马", "ship": "船", "truck": "卡车"}

ZH = {
    # -- page ----------------------------------------------------------------------------------
    """
# MobileNet Lab
MobileNet V1 on CIFAR-10: look inside the network, train one yourself, then show it pictures.
""": """
# MobileNet 实验室
在 CIFAR-10 上学习 MobileNet V1：看看网络内部，亲手训练一个，再给它看图片。
""",

    # -- architecture ------------------------------------------------------------------------
    "1 · Architecture": "1 · 网络结构",
    """
### What is inside MobileNet?
MobileNet is built for phones: it replaces almost every ordinary 3×3 convolution by a
**depthwise** 3×3 convolution (one small filter per channel) followed by a **pointwise** 1×1
convolution (which mixes the channels). The table lists every layer of the network as it runs
on a 32×32 CIFAR-10 picture: its output shape, how many numbers it learns (*parameters*) and
how many multiply-adds one picture costs (*Mult-Adds*).
Change **α** (the width multiplier: every layer keeps α of its filters), the **variant** or the
**depth** and watch the totals move.
""": """
### MobileNet 里面有什么？
MobileNet 是为手机设计的：它把几乎每个普通的 3×3 卷积换成一个 **深度（depthwise）** 3×3 卷积
（每个通道一个小卷积核），再接一个 **逐点（pointwise）** 1×1 卷积（把各通道混合起来）。
下表列出网络在一张 32×32 的 CIFAR-10 图片上运行时的每一层：输出形状、要学习多少个数
（*参数*），以及处理一张图片需要多少次乘加运算（*Mult-Adds*）。
改变 **α**（宽度乘子：每层只保留 α 倍的卷积核）、**变体** 或 **深度**，看看总数如何变化。
""",
    "Variant": "变体",
    "paper: first convolution has stride 2 (the tutorial's); cifar: stride 1, 4× the Mult-Adds":
        "paper：第一个卷积步长为 2（教程的写法）；cifar：步长为 1，乘加运算是 4 倍",
    "Width multiplier α": "宽度乘子 α",
    "every layer keeps α of its filters": "每层保留 α 倍的卷积核",
    "Depth": "深度",
    "full: 13 blocks; shallow: the paper's Table 4, without the five repeated 512-filter blocks 7-11":
        "full：13 个模块；shallow：论文表 4 的浅层版，去掉了重复的 5 个 512 通道模块（第 7-11 个）",
    "Totals": "总计",
    "Layers": "各层",
    r"""
### Why depthwise separable convolutions are cheap
A standard convolution with a $D_K \times D_K$ kernel, $M$ input channels, $N$ output channels
and a $D_F \times D_F$ output map costs

$$\text{standard} = D_K^2 \cdot M \cdot N \cdot D_F^2$$

Split into a depthwise and a pointwise step it costs

$$\text{separable} = D_K^2 \cdot M \cdot D_F^2 + M \cdot N \cdot D_F^2$$

so the separable version needs only

$$\frac{\text{separable}}{\text{standard}} = \frac{1}{N} + \frac{1}{D_K^2}$$

of the work: with 3×3 kernels ($D_K^2 = 9$) and hundreds of channels, about **8 to 9 times
fewer** Mult-Adds. The table below checks this for each block of the model above
(*ratio* = separable / standard).
""": r"""
### 为什么深度可分离卷积这么省
一个标准卷积，卷积核 $D_K \times D_K$，输入 $M$ 个通道，输出 $N$ 个通道，输出特征图
$D_F \times D_F$，计算量为

$$\text{standard} = D_K^2 \cdot M \cdot N \cdot D_F^2$$

拆成深度卷积和逐点卷积两步后，计算量为

$$\text{separable} = D_K^2 \cdot M \cdot D_F^2 + M \cdot N \cdot D_F^2$$

所以可分离版本只需要

$$\frac{\text{separable}}{\text{standard}} = \frac{1}{N} + \frac{1}{D_K^2}$$

的计算量：3×3 卷积核（$D_K^2 = 9$）、几百个通道时，乘加运算大约 **少 8 到 9 倍**。
下表对上面模型的每个模块逐一验证（*ratio* = 可分离 / 标准）。
""",
    "Each block: standard convolution vs depthwise separable": "每个模块：标准卷积 vs 深度可分离卷积",
    """
### The paper's figures beside ours
The MobileNets paper (Howard et al., 2017) measured ImageNet pictures of 224×224 pixels with
1000 classes. Our pictures are 32×32 with 10 classes, so **Mult-Adds shrink with the picture
area** (the *paper* variant at 32×32 costs about (224/32)² = 49 times less than at 224×224),
while the parameters depend on the layers, not on the picture (ours are lower mainly because
the classifier has 10 outputs instead of 1000). Accuracy is the paper's, on ImageNet; see the
Train tab for CIFAR-10.
""": """
### 论文的数字与我们的数字
MobileNets 论文（Howard 等，2017）使用 224×224 像素、1000 类的 ImageNet 图片。我们的图片是
32×32、10 类，所以 **乘加运算随图片面积缩小**（*paper* 变体在 32×32 上大约比 224×224 少
(224/32)² = 49 倍），而参数量取决于网络层而不是图片（我们的参数更少，主要因为分类层只有
10 个输出而不是 1000 个）。准确率是论文在 ImageNet 上的结果；CIFAR-10 上的结果请看“训练”页。
""",
    "MobileNets paper (ImageNet, 224×224) and ours (32×32)": "MobileNets 论文（ImageNet，224×224）与我们的（32×32）",
    # table headers and cells
    "name": "名称", "type": "类型", "output shape": "输出形状", "parameters": "参数",
    "trainable": "可训练", "non-trainable": "不可训练", "total parameters": "参数总数",
    "Mult-Adds per image": "每张图片的乘加运算", "size (MB, float32)": "大小（MB，float32）",
    "block": "模块", "M (in)": "M（输入）", "N (out)": "N（输出）",
    "standard Mult-Adds": "标准卷积乘加", "separable Mult-Adds": "可分离卷积乘加",
    "standard params": "标准卷积参数", "separable params": "可分离卷积参数", "ratio": "比例",
    "total": "合计", "model": "模型", "pixels": "像素", "ImageNet top-1 %": "ImageNet top-1 %",
    "paper: M Mult-Adds": "论文：百万次乘加", "paper: M params": "论文：百万参数",
    "ours 32×32: M Mult-Adds": "我们 32×32：百万次乘加", "ours: M params": "我们：百万参数",
    "Conv MobileNet (standard convs)": "Conv MobileNet（标准卷积）",
    "1.0 MobileNet-224": "1.0 MobileNet-224", "0.75 MobileNet-224": "0.75 MobileNet-224",
    "0.5 MobileNet-224": "0.5 MobileNet-224", "0.25 MobileNet-224": "0.25 MobileNet-224",
    "Shallow MobileNet": "浅层 MobileNet（Shallow）",

    # -- train -----------------------------------------------------------------------------------
    "2 · Train": "2 · 训练",
    """
### Train your own MobileNet
Pick the settings and press **Start training**. The network sees the training pictures again and
again (*epochs*), a *batch* at a time, and nudges its weights to make fewer mistakes: the
**loss** should go down and the **accuracy** up. *Validation* pictures are never trained on, so
they show whether the network learned something general or only memorised. At the end it is
tested on the 10,000 CIFAR-10 test pictures, and the checkpoint appears in the **Classify** tab.
The server trains one model at a time; everyone sees the same curves.
""": """
### 训练你自己的 MobileNet
选好设置，点 **开始训练**。网络一遍又一遍地看训练图片（*轮次 epoch*），每次一 *批（batch）*，
并微调权重以减少错误：**损失（loss）** 应该下降，**准确率** 应该上升。*验证* 图片从不用于训练，
所以它们能看出网络学到的是普遍规律还是死记硬背。最后在 10,000 张 CIFAR-10 测试图片上测试，
检查点会出现在 **分类** 页。服务器一次只训练一个模型；大家看到的是同一组曲线。
""",
    "Your name (optional, shown to others while you train)": "你的名字（可选，训练时其他人能看到）",
    "shallow: 8 blocks (the paper's Table 4), learns fast": "shallow：8 个模块（论文表 4），学得快",
    "full: 13 blocks (the tutorial's network)": "full：13 个模块（教程中的网络）",
    "Training images": "训练图片数",
    "more images: better, slower (50,000 = all)": "图片越多：效果越好，但越慢（50,000 = 全部）",
    "Epochs": "轮次（epoch）",
    "Batch size": "批大小（batch size）",
    "Learning rate": "学习率",
    "Augmentation": "数据增强",
    "random crops and mirror images": "随机裁剪和镜像翻转",
    "Start training": "开始训练",
    "Stop": "停止",
    "Loss (blue: train, orange: validation)": "损失（蓝：训练，橙：验证）",
    "Accuracy (blue: train, orange: validation)": "准确率（蓝：训练，橙：验证）",
    "Test accuracy of each class": "每个类别的测试准确率",
    "Confusion matrix (test set): rows are the true classes, columns the network's answers":
        "混淆矩阵（测试集）：行是真实类别，列是网络的回答",

    # train: what callbacks write
    "**No CIFAR-10 here, so training is off** (the other tabs work).":
        "**这里没有 CIFAR-10，所以不能训练**（其他页面照常可用）。",
    "No run yet. Choose the settings and press **Start training**.": "还没有训练。选好设置，点 **开始训练**。",
    "{variant}, α {alpha:g}, {depth}, {images} training images, {epochs} epochs, batch {batch}, "
    "learning rate {lr:g}, augmentation {augmentation}":
        "{variant}，α {alpha:g}，{depth}，{images} 张训练图片，{epochs} 轮，批大小 {batch}，"
        "学习率 {lr:g}，数据增强{augmentation}",
    "on": "开", "off": "关",
    "**{who}** started a run ({setup}): loading the data and building the model ...":
        "**{who}** 开始了一次训练（{setup}）：正在加载数据、搭建模型……",
    "finishing: {stage}": "收尾中：{stage}",
    "training": "正在训练",
    " Stop was pressed by **{who}**.": " **{who}** 按了停止。",
    "**{who}** is {doing} ({setup}), for {elapsed} so far.": "**{who}** {doing}（{setup}），已用时 {elapsed}。",
    "The run by **{who}** failed: {reason}": "**{who}** 的训练失败了：{reason}",
    " Validation accuracy: **{accuracy:.1%}**.": " 验证准确率：**{accuracy:.1%}**。",
    "The run by **{who}** was stopped by **{stopper}** after {elapsed}.":
        "**{who}** 的训练在 {elapsed} 后被 **{stopper}** 停止。",
    "someone": "有人",
    " What it learned is saved and listed in the **Classify** tab.": " 已学到的内容已保存，可在 **分类** 页中选用。",
    "The run by **{who}** finished in {elapsed}: test accuracy **{accuracy:.1%}** (chance is 10 %).":
        "**{who}** 的训练用时 {elapsed} 完成：测试准确率 **{accuracy:.1%}**（随机猜是 10 %）。",
    " Try it in the **Classify** tab.": " 去 **分类** 页试试吧。",
    "Waiting for a run": "等待训练开始",
    "Starting ...": "正在启动……",
    "Epoch {epoch} / {epochs} · step {done:,} / {total:,} · {rate:,.0f} images/s":
        "第 {epoch} / {epochs} 轮 · 第 {done:,} / {total:,} 步 · 每秒 {rate:,.0f} 张图片",
    " · about {duration} left": " · 大约还剩 {duration}",
    "train": "训练", "validation": "验证", "epoch": "轮次", "loss": "损失", "accuracy": "准确率",
    "class": "类别", "true \\ predicted": "真实 \\ 预测",
    "### Test accuracy: {accuracy:.1%}\non {images:,} CIFAR-10 test pictures the network never saw "
    "(chance: 10 %). Below: each class, and the confusion matrix, whose diagonal counts the right "
    "answers.":
        "### 测试准确率：{accuracy:.1%}\n在 {images:,} 张网络从未见过的 CIFAR-10 测试图片上"
        "（随机猜是 10 %）。下面是每个类别的结果，以及混淆矩阵，它的对角线是答对的数量。",
    "Fill in the learning rate, e.g. 0.002.": "请填写学习率，例如 0.002。",
    "A run is already training": "已经有一个训练在进行",
    "CIFAR-10 is not available": "CIFAR-10 不可用",
    "Check the settings: {detail}": "请检查设置：{detail}",
    "Cannot start": "无法开始",
    "Started. {who}'s run is training; the curves update every few seconds.":
        "已开始。{who} 的训练正在进行；曲线每隔几秒更新一次。",
    # train: the server's run (demo/runs.py)
    "re-estimating BatchNorm statistics": "重新估计 BatchNorm 统计量",
    "evaluating": "评估", "saving the checkpoint": "保存检查点",
    "{stage} on the {split} set": "{stage}（{split}集）",
    "test": "测试", "test (float16 storage)": "测试（float16 存储）",
    "Loading CIFAR-10 ...": "正在加载 CIFAR-10……",
    "CIFAR-10 ready: {train:,} training and {test:,} test images.":
        "CIFAR-10 已就绪：{train:,} 张训练图片，{test:,} 张测试图片。",
    "No run is training right now.": "现在没有正在进行的训练。",
    "The run started by {who} is already saving its checkpoint: it ends in a moment.":
        "{who} 开始的训练已经在保存检查点，马上就结束。",
    "Stopping the run started by {who}: it saves what it has learned so far, then ends.":
        "正在停止 {who} 开始的训练：它会保存目前学到的内容，然后结束。",
    "about {duration} left": "大约还剩 {duration}",
    # train: run owners and the teacher (demo/teacher.py)
    "Only {who}, who started this run, or the teacher can stop it. It ends by itself when it is done.":
        "只有开始这次训练的 {who} 或老师可以停止它。训练完成后会自动结束。",
    "Not your run": "这不是你的训练",
    "teacher": "老师", "Teacher": "老师", "Teacher key": "教师密钥",
    "Sign in as the teacher": "以老师身份登录",
    "This server has no teacher key (MOBILENET_TEACHER_KEY is not set).":
        "这台服务器没有教师密钥（没有设置 MOBILENET_TEACHER_KEY）。",
    "Too many wrong keys from your computer: try again in {duration}.":
        "你的电脑输错密钥的次数太多：请在 {duration} 后再试。",
    "That is not the teacher key.": "这不是教师密钥。",
    "You are the teacher in this browser tab: you can stop any run, and your name is shown with {badge}.":
        "你已在这个浏览器标签页中成为老师：可以停止任何训练，你的名字旁会显示 {badge}。",
    "just started": "刚刚开始",
    "{who} is training a model right now ({when}). Only one run trains at a time on this server: "
    "watch its curve here, and start yours when it ends.":
        "{who} 正在训练一个模型（{when}）。这台服务器一次只能训练一个模型：在这里看它的曲线，"
        "等它结束后再开始你的。",
    "the server ran out of memory. Try a smaller batch size, a smaller α or fewer training images.":
        "服务器内存不足。试试更小的批大小、更小的 α 或更少的训练图片。",
    "the disk is full, so the checkpoint could not be saved (the checkpoints saved before are "
    "intact). Free some space on the server, then start again.":
        "磁盘已满，检查点无法保存（之前保存的检查点完好无损）。请在服务器上腾出空间后再开始。",
    "a file could not be read or written (`{detail}`).": "有文件无法读取或写入（`{detail}`）。",
    "the training process was killed, most often because the server ran out of memory. The "
    "checkpoints saved before are intact; you can start again (a smaller batch size, α or fewer "
    "training images need less memory).":
        "训练进程被终止了，最常见的原因是服务器内存不足。之前保存的检查点完好无损；你可以重新开始"
        "（更小的批大小、α 或更少的训练图片需要的内存更少）。",
    "the training process ended unexpectedly ({how}). The checkpoints saved before are intact; you "
    "can start again.":
        "训练进程意外结束（{how}）。之前保存的检查点完好无损；你可以重新开始。",
    "it did not answer Stop within {seconds} s and was ended; nothing of this run was saved (the "
    "checkpoints saved before are intact).":
        "它在 {seconds} 秒内没有响应停止，已被结束；这次训练没有保存任何内容（之前保存的检查点完好无损）。",
    "the time limit": "时间上限",
    "it was stopped before training began; nothing was saved.": "它在训练开始前就被停止了；没有保存任何内容。",
    "The run by **{who}** was stopped by **{stopper}** after {elapsed}: {reason}":
        "**{who}** 的训练在 {elapsed} 后被 **{stopper}** 停止：{reason}",
    "This run would take too long": "这次训练需要的时间太长",
    "These settings would train for about {estimate} on this server, and a run may take at most "
    "{limit}. Use fewer training images or epochs, a larger batch, a smaller width α, the shallow "
    "depth or the paper variant.":
        "按这些设置，在这台服务器上大约要训练 {estimate}，而一次训练最多只能用 {limit}。"
        "请减少训练图片或轮数，加大批大小，减小宽度 α，或选用浅层深度或 paper 变体。",

    # -- classify ----------------------------------------------------------------------------
    "3 · Classify": "3 · 分类",
    """
### Ask the network what it sees
Upload a picture, take one with the webcam, paste one from the clipboard, or click an example.
The network only knows ten classes (airplane, automobile, bird, cat, deer, dog, frog, horse,
ship, truck) and only sees a **32×32** version of your picture, shown on the right: small
details are lost, and a picture of something else still gets one of the ten answers.
""": """
### 问问网络看到了什么
上传图片、用摄像头拍一张、从剪贴板粘贴，或者点一个示例。网络只认识十个类别（飞机、汽车、鸟、
猫、鹿、狗、青蛙、马、船、卡车），而且只看到你图片的 **32×32** 缩小版（显示在右边）：
细节会丢失，其他东西的图片也仍然会得到这十个答案之一。
""",
    "Checkpoint (network)": "检查点（网络）",
    "Your picture": "你的图片",
    "Classify": "分类",
    "Top 5 guesses": "前 5 个猜测",
    "What the network sees (32×32)": "网络看到的图像（32×32）",
    "All ten probabilities": "全部十个概率",
    "CIFAR-10 test pictures (32×32, one per class)": "CIFAR-10 测试图片（32×32，每类一张）",
    "Larger photos and a drawing with a transparent background": "更大的照片，和一张透明背景的画",

    # classify: what callbacks write
    "No trained network yet. Train one on the **Train** tab (about a minute); it appears here when "
    "it finishes. The pretrained network (`checkpoints/mobilenet_cifar.keras`) is not installed on "
    "this server.":
        "还没有训练好的网络。到 **训练** 页训练一个（大约一分钟），完成后会出现在这里。"
        "这台服务器上没有安装预训练网络（`checkpoints/mobilenet_cifar.keras`）。",
    "No picture yet: upload one, take a webcam photo, paste one or click an example.":
        "还没有图片：上传一张、用摄像头拍一张、粘贴一张，或点一个示例。",
    "No picture": "没有图片",
    "Only pictures uploaded to this page can be classified.": "只能对上传到本页面的图片进行分类。",
    "Not an upload": "不是上传的文件",
    "the file": "该文件",
    "{name} is no longer on the server (uploads are kept for an hour): upload it again.":
        "{name} 已不在服务器上（上传的文件保留一小时）：请重新上传。",
    "Upload again": "请重新上传",
    "{name} is larger than {limit} megapixels. Make it smaller first: the network only looks at "
    "32×32 pixels anyway.":
        "{name} 超过 {limit} 百万像素。请先缩小：反正网络只看 32×32 像素。",
    "{name} is a {kind} picture of more than {limit} megapixels, too many to read quickly. Make it "
    "smaller or save it as JPEG: the network only looks at 32×32 pixels anyway.":
        "{name} 是超过 {limit} 百万像素的 {kind} 图片，像素太多，无法快速读取。请先缩小，或另存为 "
        "JPEG：反正网络只看 32×32 像素。",
    "Picture too large": "图片太大",
    "Too many uploads from your computer in the last minute: wait a moment, then try again.":
        "过去一分钟内从你的电脑上传的文件太多：请稍等片刻再试。",
    "{name} is not a picture this app can read (or it is damaged). Use a JPEG, PNG, WebP, GIF or "
    "BMP file.":
        "{name} 不是本应用能读取的图片（或者已损坏）。请使用 JPEG、PNG、WebP、GIF 或 BMP 文件。",
    "Not a picture": "不是图片",
    # The colon stays outside the bold: CommonMark does not close "**" after full-width
    # punctuation followed by a letter or digit ("**测试准确率：**89.8%" showed its asterisks).
    "**Test accuracy:** {accuracy:.1%}": "**测试准确率**：{accuracy:.1%}",
    "**Test accuracy:** {accuracy:.1%} with flip TTA (each picture is also classified as its mirror image, "
    "and the two answers averaged, as this page does)":
        "**测试准确率**：{accuracy:.1%}，使用翻转 TTA（每张图片也以其镜像分类，两个答案取平均，本页就是这样做的）",
    "**Test accuracy:** not measured (the run was stopped early)": "**测试准确率**：未测量（训练被提前停止）",
    "**Created:** {created}": "**创建于**：{created}",
    "**Model:** {variant} variant, α {alpha}, {depth} depth": "**模型**：{variant} 变体，α {alpha}，{depth} 深度",
    "**Trained:** {done} of {epochs} epochs": "**已训练**：{epochs} 轮中的 {done} 轮",
    " + {averaged} epochs of weight averaging": "，另加 {averaged} 轮权重平均",
    " on {images:,} images": "，使用 {images:,} 张图片",
    "No network": "没有网络",
    "That checkpoint is not available any more: pick another one.": "这个检查点已经不可用：请换一个。",
    "Pick a checkpoint": "请选择检查点",
    "That checkpoint cannot be loaded ({reason}): pick another one.": "这个检查点无法加载（{reason}）：请换一个。",
    "Broken checkpoint": "检查点已损坏",
    "probability": "概率",
    "The network took **{ms:.1f} ms** for this picture ({width}×{height} pixels in, 32×32 seen).":
        "网络处理这张图片用了 **{ms:.1f} ms**（输入 {width}×{height} 像素，看到的是 32×32）。",
    "The network took **{ms:.1f} ms** for this picture and its mirror image ({width}×{height} pixels in, "
    "32×32 seen).":
        "网络处理这张图片及其镜像用了 **{ms:.1f} ms**（输入 {width}×{height} 像素，看到的是 32×32）。",
    # checkpoint names (demo/catalog.py)
    "pretrained": "预训练", "shipped": "随附", "trained here": "本机训练",
    "{kind}: {variant} α {alpha}": "{kind}：{variant} α {alpha}",
    "test {accuracy:.1%}": "测试 {accuracy:.1%}", "stopped early": "提前停止", "not tested": "未测试",
    "{what} · {tested} · {created}": "{what} · {tested} · {created}",
    "date unknown": "日期未知",
    # values of the wrong kind sent to an endpoint (demo/inputs.py)
    "Invalid value": "无效的值",
    "this input": "这个输入",
    "Choose a value for {label}.": "请为{label}选择一个值。",
    "{label} needs a number, not {value}.": "{label}需要一个数，而不是 {value}。",
    "{label} needs true or false, not {value}.": "{label}需要 true 或 false，而不是 {value}。",
    "{label} needs text, not {value}.": "{label}需要文字，而不是 {value}。",
    "{label}: {value} is not one of the choices ({choices}).": "{label}：{value} 不是可选的值（{choices}）。",
    "{label}: {value} is not one of the examples.": "{label}：{value} 不是示例之一。",
    "{label}: {value} is not one of the choices.": "{label}：{value} 不是可选的值。",
    "{label} needs a file uploaded to this page, not {value}.": "{label}需要一个上传到本页面的文件，而不是 {value}。",
    "This event takes {count} values; {sent} were sent.": "这个事件需要 {count} 个值，收到的是 {sent} 个。",
    "A value sent to this event cannot be used: send what the page's controls send.":
        "发送给这个事件的某个值无法使用：请发送页面上的控件会发送的值。",
}

# The paper repository's non-linear experiment at its scale: CIFAR-10, torchvision's ImageNet-pretrained
# ResNet-18 with its last layer removed, 10,000 training samples shared by the T tasks, 3 epochs of AdamW.
#   python non_linear.py configs/non_linear_cifar10.py --data_root=data          (downloads CIFAR-10 and the weights)
#   python non_linear.py configs/non_linear_cifar10.py --dataset=mnist --data_root=data
dataset = 'cifar10'
backbone = 'resnet18'
pretrained = True
task_counts = [1, 3, 5, 7, 9]
max_samples = 10000
epochs = 3
batch_size = 32
lr = 1e-4
weight_decay = 1e-4
train_seeds = [0, 1, 2]
levels = [0.0, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]  # the paper's deletion grid (to 0.4), on to failure
noise_levels = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05]  # ResNet-18's conv weights have a std of about 0.01-0.05
repeats = 10
out_dir = 'results/non_linear_cifar10'

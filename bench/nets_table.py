"""Merges the JSON lines of bench/cpu_nets.lua (luacnn) and bench/cpu_nets_torch.py (PyTorch,
eager and compiled, several modes) into one object per network and mode, and a Markdown table:
luacnn's examples/sec, PyTorch's in the same mode, PyTorch's best over every mode and compile
setting, luacnn / that best, and each library's TFLOP/s (from PyTorch's FLOP count of the step).

    python3 bench/nets_table.py RAW.jsonl [--out MERGED.json]
"""
import argparse
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"nets_table: {path}:{n}: not a JSON object ({e})")
    return rows


def tflops(flops, row):
    if not flops or not row:
        return None
    return flops * row['examples_per_sec'] / row['batch'] / 1e12


def merge(rows):
    nets = []
    for r in rows:
        if r['net'] not in nets:
            nets.append(r['net'])
    torch_rows = [r for r in rows if r['library'] == 'pytorch']
    merged = []
    for net in nets:
        mine = [r for r in rows if r['library'] == 'luacnn' and r['net'] == net]
        theirs = [r for r in torch_rows if r['net'] == net]
        best = max(theirs, key=lambda r: r['examples_per_sec'], default=None)
        flops = next((r['flops_per_step'] for r in theirs if r.get('flops_per_step')), None)
        for m in mine:
            same = [r for r in theirs if r['mode'] == m['mode'] and not r.get('compile')]
            eager = same[0] if same else None
            merged.append({
                'net': net, 'mode': m['mode'], 'device': m['device'], 'batch': m['batch'],
                'size': m['size'],
                'luacnn_examples_per_sec': m['examples_per_sec'],
                'pytorch_eager_examples_per_sec': eager and eager['examples_per_sec'],
                'pytorch_best_examples_per_sec': best and best['examples_per_sec'],
                'pytorch_best_setting': best and (best['mode'] + (' compiled ' + best['compile']
                                                                  if best.get('compile') else ' eager')),
                'pytorch_best_compile_seconds': best and best.get('compile_seconds'),
                'ratio_to_best': best and m['examples_per_sec'] / best['examples_per_sec'],
                'luacnn_tflops': tflops(flops, m),
                'pytorch_best_tflops': tflops(flops, best),
            })
    return merged


def fmt(v, spec):
    return '' if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('raw')
    ap.add_argument('--out', default='')
    a = ap.parse_args()
    merged = merge(load(a.raw))
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(merged, f, indent=1)
    print('| network | mode | batch | luacnn ex/s | PyTorch same mode | PyTorch best (setting) '
          '| luacnn / best | TFLOP/s luacnn / PyTorch best |')
    print('|---|---|---|---|---|---|---|---|')
    for m in merged:
        setting = f" ({m['pytorch_best_setting']})" if m['pytorch_best_setting'] else ''
        ratio = fmt(m['ratio_to_best'], '.2f')
        print(f"| {m['net']} | {m['mode']} | {m['batch']} | {fmt(m['luacnn_examples_per_sec'], ',.0f')} "
              f"| {fmt(m['pytorch_eager_examples_per_sec'], ',.0f')} "
              f"| {fmt(m['pytorch_best_examples_per_sec'], ',.0f')}{setting} "
              f"| {ratio + 'x' if ratio else ''} "
              f"| {fmt(m['luacnn_tflops'], '.2f')} / {fmt(m['pytorch_best_tflops'], '.2f')} |")


if __name__ == '__main__':
    main()

"""Pieces every model card is rendered from: records by noise level, and the Hub front matter."""

from __future__ import annotations


def by_sigma(records: list[dict], dataset: str | None = None) -> dict:
    """{sigma: record} for one method's records (of one dataset, when given)."""
    return {r["sigma"]: r for r in records if dataset is None or r["dataset"] == dataset}


def front_matter(results: dict, repo_id: str) -> str:
    metrics = []
    for r in results.get("cbsd68", []):
        metrics.append(
            f"    - task:\n        type: image-to-image\n        name: Image Denoising (AWGN sigma={r['sigma']:g})\n"
            f"      dataset:\n        type: CBSD68\n        name: CBSD68\n"
            f"      metrics:\n        - type: psnr\n          value: {r['psnr']:.2f}\n          name: PSNR\n"
            f"        - type: ssim\n          value: {r['ssim']:.4f}\n          name: SSIM"
        )
    index = f"model-index:\n  - name: {repo_id.split('/')[-1]}\n    results:\n" + "\n".join(metrics) if metrics else ""
    return ("---\nlibrary_name: denoiser\nlicense: other\nlicense_name: bsds-research-use\npipeline_tag: image-to-image\n"
            "tags:\n  - image-denoising\n  - autoencoder\n  - pytorch\ndatasets:\n  - CBSD68\n" + index + "\n---\n")

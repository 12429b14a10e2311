# genlab serve in a container: the trained models of a mounted runs folder, API + page on port 8000.
#   docker build -t genlab-serve .                                   (CPU)
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu121 -t genlab-serve:cuda .
#   docker run -p 8000:8000 -v $PWD/outputs/quick:/runs -e GENLAB_TOKEN=<token> genlab-serve
# The server binds 0.0.0.0 inside the container, so it needs a token (GENLAB_TOKEN); /health is open.
FROM python:3.11-slim
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
WORKDIR /app
COPY pyproject.toml README.md ./
COPY lib ./lib
RUN pip install --no-cache-dir --extra-index-url ${TORCH_INDEX} . \
    && useradd --create-home genlab
USER genlab
ENV GENLAB_TOKEN=""
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["python", "-m", "genlab", "serve", "--runs", "/runs", "--host", "0.0.0.0", "--port", "8000"]

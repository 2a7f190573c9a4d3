# The image docker-compose.yml runs: the server and client, nothing fetched at run time.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY server server
COPY client client
COPY examples examples
RUN pip install --no-cache-dir .
EXPOSE 8081 8082
CMD ["podium", "serve", "--host", "0.0.0.0"]

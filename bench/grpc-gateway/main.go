// grpc-gateway-bench: the grpc-gateway v1 runtime mux for
// ecommerce.v1.ProductService (protos/ecommerce/v1/product.proto), in
// front of a cleartext gRPC upstream. bench/run.sh measures it against
// protogate's REST->gRPC transcoder; build it with build.sh, which
// generates the `pb` package from the proto at build time.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"

	pb "protogate.bench/ecommerce/v1"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve REST/JSON on (HTTP/1.1)")
	upstream := flag.String("upstream", "127.0.0.1:50051", "gRPC upstream (h2c, no TLS)")
	origNames := flag.Bool("orig-names", false, "JSON field names as in the .proto (grpc-gateway v1's default) instead of proto3 JSON's lowerCamelCase")
	flag.Parse()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// grpc-gateway v1 defaults to JSONPb{OrigName: true}; proto3's JSON
	// mapping (and so a spec-following transcoder) uses lowerCamelCase.
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{OrigName: *origNames}),
	)
	opts := []grpc.DialOption{grpc.WithInsecure()}
	if err := pb.RegisterProductServiceHandlerFromEndpoint(ctx, mux, *upstream, opts); err != nil {
		log.Fatalf("register ProductService: %v", err)
	}

	srv := &http.Server{Addr: *listen, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		shutdownCtx, done := context.WithTimeout(ctx, 2*time.Second)
		defer done()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("grpc-gateway on %s -> %s", *listen, *upstream)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatalf("serve: %v", err)
	}
}

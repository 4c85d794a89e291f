package miniotest

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// s3Codes are the S3 error codes the proxy answers with for some statuses;
// other statuses use their status text without spaces ("BadGateway").
var s3Codes = map[int]string{
	http.StatusBadRequest:          "BadRequest",
	http.StatusForbidden:           "AccessDenied",
	http.StatusNotFound:            "NoSuchKey",
	http.StatusInternalServerError: "InternalError",
	http.StatusNotImplemented:      "NotImplemented",
	http.StatusServiceUnavailable:  "SlowDown",
}

// s3Error is the XML document of an S3 error response.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string
	RequestID string `xml:"RequestId"`
}

// requestID is the x-amz-request-id of the proxy's own answers, so that
// they can be told from the server's.
const requestID = "miniotest-proxy"

// writeError answers r with status code and an S3 error document naming
// the code's S3 error code. A HEAD answer has no body, as with S3.
func writeError(w http.ResponseWriter, r *http.Request, code int) {
	s3Code, ok := s3Codes[code]
	if !ok {
		s3Code = strings.ReplaceAll(http.StatusText(code), " ", "")
	}
	doc, err := xml.Marshal(s3Error{
		Code:      s3Code,
		Message:   "injected by miniotest",
		Resource:  r.URL.Path,
		RequestID: requestID,
	})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	body := append([]byte(xml.Header), doc...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Request-Id", requestID)
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // nobody to tell if the client went away
	}
}

/* The HTML report's static parts, compiled into spantap from reports/html/assets/
 * and the pinned d3 (node_modules/d3/dist/d3.min.js) by reports/html/embed-assets.sh. */
#ifndef SPANTAP_REPORTS_HTML_HTML_ASSETS_H
#define SPANTAP_REPORTS_HTML_HTML_ASSETS_H

extern const char spantap_html_template[]; /* the page, with <!--SPANTAP:NAME--> markers */
extern const char spantap_html_css[];
extern const char spantap_html_js[];
extern const char spantap_html_d3[];

#endif
